"""The bounds of the completeness check: what an export taken between two count reads must hold."""

from __future__ import annotations

from source_qualtrics.completeness import CHANGES, FULL, CountsReading, check_survey
from source_qualtrics.streams.response_state import SurveyCursor


def reading(auditable: int, generated: int = 0, deleted: int = 0) -> CountsReading:
    return CountsReading(auditable, generated, deleted, "2026-12-06T10:00:00.000Z")


def test_a_full_export_must_hold_every_recorded_response_generated_ones_included() -> None:
    check, _ = check_survey("SV_1", 118, reading(100, 20), reading(100, 20), previous_ceiling=None, full=True)
    assert check is not None and check.kind == FULL
    assert (check.expected, check.shortfall) == (120, 2)


def test_responses_deleted_between_the_reads_may_be_missing_from_the_export() -> None:
    check, ceiling = check_survey(
        "SV_1", 116, reading(100, 20), reading(96, 20, deleted=4), previous_ceiling=None, full=True
    )
    assert check is not None and check.shortfall == 0
    assert ceiling == 120  # and the export may still have held them


def test_responses_recorded_between_the_reads_are_not_required() -> None:
    check, ceiling = check_survey("SV_1", 120, reading(120), reading(125), previous_ceiling=None, full=True)
    assert check is not None and check.shortfall == 0
    assert ceiling == 125


def test_changes_must_account_for_the_growth_since_the_previous_ceiling() -> None:
    check, _ = check_survey("SV_1", 3, reading(130), reading(131), previous_ceiling=125, full=False)
    assert check is not None and check.kind == CHANGES
    assert (check.expected, check.shortfall) == (5, 2)
    edits_count_too, _ = check_survey("SV_1", 9, reading(130), reading(130), previous_ceiling=125, full=False)
    assert edits_count_too is not None and edits_count_too.shortfall == 0


def test_without_a_previous_ceiling_changes_are_not_checked_but_leave_one() -> None:
    check, ceiling = check_survey("SV_1", 0, reading(130), reading(130), previous_ceiling=None, full=False)
    assert check is None and ceiling == 130


def test_counts_without_the_documented_keys_are_no_reading() -> None:
    assert CountsReading.of({"auditable": 3}, "t") is None
    assert CountsReading.of({"auditable": 3, "deleted": 0}, "t") == CountsReading(3, 0, 0, "t")


def test_the_ceiling_survives_the_saved_state() -> None:
    cursor = SurveyCursor(continuation_token="tok", counts_ceiling=125)
    assert SurveyCursor.from_json(cursor.to_json()).counts_ceiling == 125
    assert SurveyCursor.from_json({"countsCeiling": True}).counts_ceiling is None
