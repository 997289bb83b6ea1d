"""Windows of last-modified time: planned from a response count, split in halves down to a floor, and
exported in keyset chunks of halving size."""

from __future__ import annotations

import pytest

from source_qualtrics.dates import instant
from source_qualtrics.windows import MIN_WINDOW, ChunkProgress, Window, plan_windows

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


# -- keyset chunks ------------------------------------------------------------------------------------

CHUNK = Window(instant("2025-01-01T00:00:00Z"), None, limit=3)


def admit_all(progress: ChunkProgress, records: list[tuple[str, str]]) -> list[bool]:
    """Whether the chunk emits each of these (response id, lastModifiedDate), in order."""
    return [progress.admit(rid, modified) for rid, modified in records]


def test_a_full_chunk_is_followed_by_one_starting_at_the_last_second_it_reached() -> None:
    progress = ChunkProgress(CHUNK)
    for rid, modified in [
        ("R_1", "2025-02-01T10:00:00.1Z"),
        ("R_2", "2025-02-01T10:00:05.2Z"),
        ("R_3", "2025-02-01T10:00:05.9Z"),
    ]:
        assert progress.admit(rid, modified)
    following = progress.successor()
    assert following == Window(instant("2025-02-01T10:00:05Z"), None, limit=3, seen=("R_2", "R_3"))


def test_the_responses_the_previous_chunk_emitted_are_skipped_once() -> None:
    window = Window(instant("2025-02-01T10:00:05Z"), None, limit=3, seen=("R_2", "R_3"))
    progress = ChunkProgress(window)
    admitted = admit_all(
        progress,
        [
            ("R_2", "2025-02-01T10:00:05.2Z"),
            ("R_3", "2025-02-01T10:00:05.9Z"),
            ("R_4", "2025-02-01T10:00:05.9Z"),
        ],
    )
    assert admitted == [False, False, True]


def test_a_chunk_shorter_than_its_limit_ends_the_window() -> None:
    progress = ChunkProgress(CHUNK)
    progress.admit("R_1", "2025-02-01T10:00:00Z")
    assert progress.successor() is None


def test_a_chunk_whose_responses_all_share_its_first_second_doubles_to_reach_past_them() -> None:
    window = Window(instant("2025-02-01T10:00:05Z"), None, limit=2, seen=("R_1",))
    progress = ChunkProgress(window)
    progress.admit("R_1", "2025-02-01T10:00:05.5Z")
    progress.admit("R_2", "2025-02-01T10:00:05.5Z")
    following = progress.successor()
    assert following is not None and following.start == window.start
    assert following.seen == ("R_1", "R_2") and following.limit == 4
    assert following.smaller_chunks() is None, "half of it could not reach past the two it must skip"


# -- the chunk contract: what keyset paging relies on, checked on every record -----------------------


def read_chunk(window: Window, records: list[tuple[str, str]]) -> ChunkProgress:
    progress = ChunkProgress(window)
    admit_all(progress, records)
    return progress


def test_a_chunk_sorted_newest_first_breaks_the_contract_and_gives_no_next_chunk() -> None:
    progress = read_chunk(
        CHUNK,
        [("R_3", "2025-02-03T10:00:00Z"), ("R_2", "2025-02-02T10:00:00Z"), ("R_1", "2025-02-01T10:00:00Z")],
    )
    assert progress.broken is not None and "R_2" in progress.broken and "not ascending" in progress.broken
    assert progress.successor() is None, "a next chunk from the newest second would skip R_1's elders"


def test_a_chunk_holding_more_than_its_limit_breaks_the_contract() -> None:
    progress = read_chunk(CHUNK, [(f"R_{n}", f"2025-02-01T10:00:0{n}Z") for n in range(1, 5)])
    assert progress.broken == "4 records from an export limited to 3"
    assert progress.successor() is None


def test_a_chunk_with_a_response_outside_its_window_breaks_the_contract() -> None:
    window = Window(instant("2025-02-01T00:00:00Z"), instant("2025-03-01T00:00:00Z"), limit=3)
    progress = read_chunk(
        window,
        [("R_1", "2025-02-01T10:00:00Z"), ("R_2", "2025-02-05T10:00:00Z"), ("R_3", "2025-03-01T00:00:00Z")],
    )
    assert progress.broken is not None and "R_3" in progress.broken and "outside" in progress.broken
    assert progress.successor() is None
    early = read_chunk(window, [("R_0", "2025-01-31T23:59:59.9Z")])
    assert early.broken is not None and "R_0" in early.broken


def test_ascending_responses_within_one_second_in_any_order_keep_the_contract() -> None:
    progress = read_chunk(
        CHUNK,
        [
            ("R_1", "2025-02-01T10:00:05.9Z"),
            ("R_2", "2025-02-01T10:00:05.1Z"),
            ("R_3", "2025-02-01T10:00:06Z"),
        ],
    )
    assert progress.broken is None and progress.successor() is not None


def test_a_broken_chunk_emits_nothing_past_the_breach_and_its_re_export_skips_what_it_emitted() -> None:
    window = Window(instant("2025-02-01T10:00:05Z"), None, limit=4, seen=("R_0",))
    progress = ChunkProgress(window)
    admitted = admit_all(
        progress,
        [
            ("R_1", "2025-02-01T10:00:06Z"),
            ("R_3", "2025-02-01T10:00:09Z"),
            ("R_2", "2025-02-01T10:00:07Z"),  # older than the one before: the breach
            ("R_4", "2025-02-01T10:00:10Z"),
        ],
    )
    assert admitted == [True, True, False, False], "what follows the breach comes with the re-export"
    emitted = progress.already_emitted()
    assert emitted.holds("R_1", "2025-02-01T10:00:06Z") and emitted.holds("R_3", "2025-02-01T10:00:09Z")
    assert not emitted.holds("R_2", "2025-02-01T10:00:07Z") and not emitted.holds(
        "R_4", "2025-02-01T10:00:10Z"
    )
    assert not emitted.holds("R_1", "2025-03-01T00:00:00Z"), "an edited version is emitted again"
    assert emitted.holds("R_0", "2025-02-01T10:00:05.5Z"), "the previous chunk emitted it at that second"
    assert not emitted.holds("R_0", "2025-02-01T10:00:08Z")


def test_a_broken_chunk_is_exported_again_by_time_without_limit() -> None:
    window = Window(instant("2025-01-01T00:00:00Z"), instant("2025-01-03T00:00:00Z"), limit=50, seen=("R_1",))
    pieces = window.order_free(instant("2025-06-01T00:00:00Z"), None)
    assert pieces == [
        Window(instant("2025-01-01T00:00:00Z"), instant("2025-01-02T00:00:00Z")),
        Window(instant("2025-01-02T00:00:00Z"), instant("2025-01-03T00:00:00Z")),
    ]
    narrow = Window(instant("2025-01-01T00:00:00Z"), instant("2025-01-01T00:05:00Z"), limit=50)
    assert narrow.order_free(instant("2025-06-01T00:00:00Z"), None) == [Window(narrow.start, narrow.end)]


def test_chunks_halve_down_to_one_response() -> None:
    sizes = []
    window: Window | None = Window(None, None).in_chunks(5)
    while window is not None:
        sizes.append(window.limit)
        window = window.smaller_chunks()
    assert sizes == [5, 2, 1]


def test_chunks_survive_the_state_round_trip_and_old_windows_load_unchanged() -> None:
    window = Window(instant("2025-02-01T10:00:05Z"), None, limit=1500, seen=("R_2", "R_3"))
    assert Window.from_json(window.to_json()) == window
    assert Window.from_json({"start": None, "end": "2025-01-01T00:00:00Z"}) == Window(
        None, instant("2025-01-01T00:00:00Z")
    )
    with pytest.raises(ValueError):
        Window.from_json({"start": None, "end": None, "limit": 0})
