"""`survey_response_counts`: Qualtrics' own response counts per survey, once per sync, appended.

Each record holds what `GET /surveys/{id}` reports (`responseCounts`), what `responses` emitted for
the survey in this sync and how far it has exported it, and the outcome of the completeness check
(`completeness.py`): a `shortfall` above 0 names responses Qualtrics holds that never arrived. The
warehouse keeps every sync's record (primary key `surveyId` + `readAt`), so a survey's history of
counts can be compared with what the destination holds (docs/qualtrics.md, "Completeness").

The stream is read after `responses` (the source orders it last), so it reports this sync's exports;
it reads no count twice: the read the check made after the exports, else the one planning made, else
one `GET /surveys/{id}` of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import Stream

from source_qualtrics.dates import latest
from source_qualtrics.streams.single_cursor import SingleCursor
from source_qualtrics.sync import SyncContext

STREAM_NAME = "survey_response_counts"


class SurveyResponseCounts(SingleCursor, Stream):
    primary_key = ["surveyId", "readAt"]
    cursor_field = "readAt"

    def __init__(self, sync: SyncContext) -> None:
        self._sync = sync
        self._cursor: str | None = None

    @property
    def name(self) -> str:
        return STREAM_NAME

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        reports = self._sync.export_reports
        for survey_id in self._sync.survey_ids():
            counts = self._sync.latest_counts(survey_id)
            if counts is None:
                continue  # the survey's details could not be read (already a warning)
            report = reports.get(survey_id)
            check = report.check if report is not None else None
            yield {
                "surveyId": survey_id,
                "readAt": counts.read_at,
                "auditable": counts.auditable,
                "generated": counts.generated,
                "deleted": counts.deleted,
                "exportedThisSync": report.emitted if report is not None else None,
                "exportedThrough": report.position if report is not None else None,
                "check": check.kind if check is not None else None,
                "expected": check.expected if check is not None else None,
                "shortfall": check.shortfall if check is not None else None,
            }
            self._cursor = latest(self._cursor, counts.read_at)
