"""Windows of last-modified time: planned from a response count, split in halves down to a floor."""

from __future__ import annotations

import pytest

from source_qualtrics.dates import instant
from source_qualtrics.windows import MIN_WINDOW, Window, plan_windows

START = instant("2024-01-01T00:00:00Z")
NOW = instant("2025-01-01T00:00:00Z")


def test_a_big_survey_is_planned_as_adjacent_windows_ending_in_one_open_window() -> None:
    windows = plan_windows(START, 1_000_000, 250_000, NOW)
    assert len(windows) == 4
    assert windows[0].start == START and windows[-1].end is None
    assert [w.open_ended for w in windows] == [False, False, False, True]
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert earlier.end == later.start, "adjacent: endDate is exclusive, startDate inclusive"


@pytest.mark.parametrize(
    ("start", "responses"),
    [(START, 250_000), (START, None), (None, 5_000_000), (NOW, 5_000_000)],
)
def test_without_enough_to_size_from_a_survey_is_one_open_window(start, responses) -> None:  # type: ignore[no-untyped-def]
    assert plan_windows(start, responses, 250_000, NOW) == [Window(start, None)]


def test_window_bodies_use_the_api_date_format_and_leave_open_sides_out() -> None:
    assert Window(START, NOW).body_dates() == {
        "startDate": "2024-01-01T00:00:00Z",
        "endDate": "2025-01-01T00:00:00Z",
    }
    assert Window(None, None).body_dates() == {}


def test_halves_meet_in_the_middle_and_keep_open_sides_open() -> None:
    first, second = Window(None, None).halves(NOW, START)  # type: ignore[misc]
    middle = instant("2024-07-02T00:00:00Z")
    assert (first, second) == (Window(None, middle), Window(middle, None))


def test_a_window_narrower_than_twice_the_floor_is_not_split() -> None:
    narrow = Window(START, START + MIN_WINDOW * 2 - MIN_WINDOW / 10)
    assert narrow.halves(NOW, START) is None
    wide_enough = Window(START, START + MIN_WINDOW * 2)
    assert wide_enough.halves(NOW, START) is not None
    assert Window(None, NOW).halves(NOW, None) is None, "no start to measure from"


def test_windows_survive_the_state_round_trip() -> None:
    for window in (Window(START, NOW), Window(None, NOW), Window(START, None)):
        assert Window.from_json(window.to_json()) == window
    with pytest.raises(ValueError):
        Window.from_json(["2024-01-01T00:00:00Z"])
