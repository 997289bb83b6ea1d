"""The self-check: Qualtrics' own response counts against the responses an export emitted.

`GET /surveys/{id}` reports `responseCounts`: `auditable` (recorded responses of real respondents,
finished or closed unfinished), `generated` (test and preview responses), `deleted` (responses deleted
since the survey began). An export without a filter returns every recorded response that is not
deleted, generated ones included, and no in-progress one: `auditable + generated` is what a full export
holds at the moment Qualtrics takes it (docs/qualtrics.md, "Completeness").

The moment Qualtrics takes an export is not observable, so it is bounded by two reads of the counts:
one before the export starts (`before`), one after its records are out (`after`). Responses recorded
between the reads may or may not be in the export; responses deleted between them may have been counted
in `before` and be missing from the export. So the export's responses are at least
`before.total - deleted meanwhile` (`floor`) and at most `after.total + deleted meanwhile` (`ceiling`).

- A full export must emit at least its floor.
- A changes export (continuation token or date window since the last one) must emit at least its floor
  minus the ceiling of the previous export: every response recorded since then is in it, and edits and
  boundary duplicates only add to what it emits. The ceiling is stored in the survey's cursor, written
  with the token it belongs to.

Anything below is a `shortfall`: responses Qualtrics holds that this connection never emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger("airbyte")

FULL = "full_export"
CHANGES = "changes"


@dataclass(frozen=True)
class CountsReading:
    """One read of a survey's `responseCounts`, and when it was made."""

    auditable: int
    generated: int
    deleted: int
    read_at: str

    @property
    def exportable(self) -> int:
        """What an unfiltered export holds: recorded responses, real and generated."""
        return self.auditable + self.generated

    @classmethod
    def of(cls, counts: Mapping[str, int] | None, read_at: str) -> CountsReading | None:
        if counts is None or not {"auditable", "deleted"} <= counts.keys():
            return None
        return cls(counts["auditable"], counts.get("generated", 0), counts["deleted"], read_at)


def deleted_between(before: CountsReading, after: CountsReading) -> int:
    return max(0, after.deleted - before.deleted)


def floor(before: CountsReading, after: CountsReading) -> int:
    """The fewest responses an export taken between the two reads can hold."""
    return before.exportable - deleted_between(before, after)


def ceiling(before: CountsReading, after: CountsReading) -> int:
    """The most responses an export taken between the two reads can hold."""
    return after.exportable + deleted_between(before, after)


@dataclass(frozen=True)
class ExportCheck:
    """The outcome of one survey's check in one sync (what the counts stream reports)."""

    survey_id: str
    kind: str  # FULL or CHANGES
    emitted: int
    expected: int  # the fewest responses the export(s) had to emit
    after: CountsReading

    @property
    def shortfall(self) -> int:
        return max(0, self.expected - self.emitted)


@dataclass(frozen=True)
class SurveyExportReport:
    """What `responses` did for one survey in this sync, for the `survey_response_counts` stream."""

    emitted: int  # responses emitted for the survey in this sync
    position: str | None  # the newest last-modified date exported for the survey, over all syncs
    check: ExportCheck | None = None  # None: not checked in this sync (the docs list when)


def check_full(survey_id: str, emitted: int, before: CountsReading, after: CountsReading) -> ExportCheck:
    return ExportCheck(survey_id, FULL, emitted, floor(before, after), after)


def check_changes(
    survey_id: str, emitted: int, before: CountsReading, after: CountsReading, previous_ceiling: int
) -> ExportCheck:
    return ExportCheck(survey_id, CHANGES, emitted, floor(before, after) - previous_ceiling, after)


def check_survey(
    survey_id: str,
    emitted: int,
    before: CountsReading,
    after: CountsReading,
    *,
    previous_ceiling: int | None,
    full: bool,
) -> tuple[ExportCheck | None, int]:
    """The check of what one survey's exports emitted in a sync (None: nothing to check against),
    and the ceiling the next sync's check starts from."""
    if full:
        check: ExportCheck | None = check_full(survey_id, emitted, before, after)
    elif previous_ceiling is not None:
        check = check_changes(survey_id, emitted, before, after, previous_ceiling)
    else:
        check = None
    return check, ceiling(before, after)


def warn_shortfall(stream: str, check: ExportCheck) -> None:
    """One warning per survey: which, both numbers, and the way out."""
    what = "its full export" if check.kind == FULL else "its changes since the last sync"
    logger.warning(
        "%s: survey %s may be incomplete: Qualtrics' response counts say %s should have brought at "
        "least %d response(s), and %d arrived (%d missing). Responses Qualtrics holds were not exported; "
        "reset the %s stream for survey %s (or the whole stream) to export it again.",
        stream,
        check.survey_id,
        what,
        check.expected,
        check.emitted,
        check.shortfall,
        stream,
        check.survey_id,
    )
