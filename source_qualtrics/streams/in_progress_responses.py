"""`in_progress_responses`: responses a respondent started but has not finished yet.

Qualtrics leaves them out of normal exports and returns *only* them with `exportResponsesInProgress`.
They change until they are closed, so the stream is full refresh: each sync replaces the snapshot. When
the respondent submits, or the survey's partial-response window closes them, Qualtrics records them:
they then appear in `responses` (with `finished = false` if they were closed incomplete) and drop out
of this stream at its next sync.

Where they can exist: a response in progress stays open for the survey's incomplete-response period
after the respondent's last activity (one week unless the survey sets another), whatever the survey's
activation status, then it is recorded (or deleted, as the survey says). So an active survey may
always have some, and a closed one only for a while after it closed. Exporting every survey at every
sync would spend an export start (Qualtrics allows about 100 a minute) on each of a brand's closed
surveys, every night: the stream exports active surveys, and closed ones modified within
`in_progress_lookback_days` (0: every survey).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.utils.schema_helpers import ResourceSchemaLoader

from source_qualtrics.dates import Duration, now, parse_instant
from source_qualtrics.export import ExportTask
from source_qualtrics.streams.export_stream import SurveyExportStream
from source_qualtrics.streams.responses import to_record

IN_PROGRESS_EXPORT: dict[str, Any] = {"format": "ndjson", "compress": True, "exportResponsesInProgress": True}


class InProgressResponses(SurveyExportStream):
    primary_key = "responseId"

    @property
    def name(self) -> str:
        return "in_progress_responses"

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]
        """Same record shape as `responses`, so both tables line up column for column."""
        return ResourceSchemaLoader("source_qualtrics").get_schema("responses")

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        if not self.may_have_sessions(self._sync.listed(survey_id)):
            return []
        options = replace(self._config.export_options, filter_id=None)  # filters apply to recorded responses
        return [ExportTask(survey_id, options.apply(dict(IN_PROGRESS_EXPORT)))]

    def may_have_sessions(self, survey: Mapping[str, Any]) -> bool:
        """Active, or closed recently enough for a response in progress to be still open (unknown: yes)."""
        days = self._config.in_progress_lookback_days
        if not days or survey.get("isActive") is not False:
            return True
        modified = parse_instant(survey.get("lastModified"))
        return modified is None or now() - modified <= Duration(days=days)

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for raw in lines:
            yield to_record(task.survey_id, raw)
