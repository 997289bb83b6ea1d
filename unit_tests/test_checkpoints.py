"""How often the export-fed streams let the CDK write a STATE: in proportion to what it protects."""

from __future__ import annotations

import pytest

from source_qualtrics.checkpoints import BIG_EXPORT_RECORDS, SMALL_SHARES, CheckpointPolicy


def checkpoints_after(policy: CheckpointPolicy, exports: list[tuple[int, bool]]) -> list[int]:
    """Which exports (1-based) are followed by a STATE."""
    return [
        n
        for n, (records, backfill) in enumerate(exports, 1)
        if policy.due(records=records, backfill=backfill)
    ]


@pytest.mark.parametrize("surveys", [1, 3, 8, 9, 200, 10_000])
def test_small_exports_share_at_most_eight_checkpoints_whatever_the_survey_count(surveys: int) -> None:
    due = checkpoints_after(CheckpointPolicy(surveys=surveys), [(3, False)] * surveys)
    assert len(due) <= SMALL_SHARES
    assert due[-1] == surveys or surveys % CheckpointPolicy(surveys=surveys).share, ()
    gaps = [later - earlier for earlier, later in zip([0, *due], due, strict=False)]
    assert max(gaps) <= -(-surveys // SMALL_SHARES), "a kill repeats at most an eighth of the surveys"


def test_a_backfill_chunk_and_a_big_export_are_checkpointed_right_after_their_records() -> None:
    policy = CheckpointPolicy(surveys=1000)  # small exports share a STATE every 125
    exports = [(3, False), (500, True), (3, False), (BIG_EXPORT_RECORDS, False), (3, False), (0, True)]
    assert checkpoints_after(policy, exports) == [2, 4, 6]


def test_a_checkpoint_of_any_kind_starts_the_next_share_afresh() -> None:
    policy = CheckpointPolicy(surveys=16)  # a share is 2 small exports
    assert checkpoints_after(policy, [(1, False), (1, True), (1, False), (1, False)]) == [2, 4]
