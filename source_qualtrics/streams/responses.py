"""`responses`: every survey's responses through the export job, one partition per survey.

Incremental syncs ask Qualtrics for what changed since the last export of that survey (continuation
token with `sortByLastModifiedDate`: new *and* edited responses), or, when no usable token exists,
for a window from the newest last-modified timestamp seen. A survey's cursor moves only after all
of its records were handed to the platform, so an interrupted or failed export never loses data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import datetime, timezone
from typing import Any, Protocol

from airbyte_cdk.models import AirbyteMessage, SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import QualtricsConfig, format_api_datetime
from source_qualtrics.errors import ExportFailed
from source_qualtrics.export import ExportRequest, ExportRun, ExportTiming
from source_qualtrics.streams.export_stream import PlannedExport, SurveyExportStream
from source_qualtrics.streams.response_state import ResponsesState, SurveyCursor, utc_now_iso

logger = logging.getLogger("airbyte")

# Metadata keys of `values` promoted to top-level columns (see `to_record`), by declared type.
PROMOTED_TEXT = ("recordedDate", "startDate", "endDate", "distributionChannel", "userLanguage")
PROMOTED_INT = ("status", "progress", "duration")


class Companion(Protocol):
    """A stream fed from `responses`' own pass over each export file."""

    @property
    def name(self) -> str: ...

    def as_messages(self, record: Mapping[str, Any]) -> Iterator[AirbyteMessage]: ...


class Responses(SurveyExportStream, IncrementalMixin):
    primary_key: str | list[str] = "responseId"
    cursor_field = "lastModifiedDate"

    def __init__(
        self,
        client: QualtricsClient,
        config: QualtricsConfig,
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(client, config, timing=timing, sleep=sleep)
        self._state = ResponsesState()
        #: a stream whose records are built from ours in the same pass (question_answers), if any
        self.companion: Companion | None = None
        #: set on a companion: `responses` reads for it, so its own read does nothing
        self.served_by_responses = False

    def share_state_with(self, other: Responses) -> None:
        self._state = other._state

    @property
    def name(self) -> str:
        return "responses"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state.as_json()

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._state.load(value)

    # -- one export per survey, asking only for what changed since its cursor --------------------------

    def plan(self, sync_mode: SyncMode) -> list[PlannedExport]:
        incremental = sync_mode == SyncMode.incremental
        return [
            PlannedExport(self._export_request(survey_id, incremental)) for survey_id in self.survey_ids()
        ]

    def _export_request(self, survey_id: str, incremental: bool) -> ExportRequest:
        options = self._config.export_options
        base: dict[str, Any] = options.apply({"format": "ndjson", "compress": True})
        cursor = self._state.get(survey_id) if incremental else None
        if options.filter_id:
            # Qualtrics refuses continuation and last-modified sorting with a filter: recorded-date window
            window = dict(base)
        else:
            base["sortByLastModifiedDate"] = True
            window = dict(base, allowContinuation=True)
        since = self._config.start_date
        if cursor and cursor.last_modified:
            since = _floor_to_second(cursor.last_modified) or since
        if since:
            window["startDate"] = format_api_datetime(since)
        token = cursor.usable_token(datetime.now(timezone.utc)) if cursor and not options.filter_id else None
        if cursor and cursor.continuation_token and not token and not options.filter_id:
            logger.warning(
                "Survey %s: the stored continuation token is older than Qualtrics keeps tokens; "
                "exporting responses modified since %s instead.",
                survey_id,
                window.get("startDate", "the start date"),
            )
        if token:
            return ExportRequest(survey_id, dict(base, continuationToken=token), fallback_body=window)
        return ExportRequest(survey_id, window)

    # -- records, then the survey's cursor --------------------------------------------------------------

    def after_survey(self, sync_mode: SyncMode) -> Iterator[AirbyteMessage]:
        """The companion's checkpoint, right after ours would be: both share the cursors."""
        if self.companion is not None and sync_mode == SyncMode.incremental and self._state_manager:
            name = self.companion.name
            self._state_manager.update_state_for_stream(name, None, self._state.as_json())
            yield self._state_manager.create_state_message(name, None)

    def records_of(
        self, run: ExportRun, planned: PlannedExport
    ) -> Iterator[Mapping[str, Any] | AirbyteMessage]:
        survey_id = run.survey_id
        newest_key = ""
        newest = None
        companion = self.companion
        for raw in run.records():
            record = to_record(survey_id, raw)
            modified = record["lastModifiedDate"]
            if isinstance(modified, str) and modified[:19] > newest_key:
                newest_key, newest = modified[:19], modified
            yield record
            if companion is not None:
                yield from companion.as_messages(record)
        planned.context["newest"] = newest

    def tolerated(self, failure: ExportFailed) -> bool:
        """A survey found in the list but not exportable (403/404: shared from another user or
        datacenter) is a warning; one the user named in `survey_ids` is an error worth failing for."""
        return failure.is_config_error and not self._config.survey_ids

    def survey_done(self, run: ExportRun, planned: PlannedExport, sync_mode: SyncMode) -> None:
        """Move the survey's cursor: every one of its records has been handed to the platform."""
        if sync_mode != SyncMode.incremental:
            return
        previous = self._state.get(run.survey_id) or SurveyCursor()
        newest = planned.context.get("newest")
        keep_previous = not newest or newest[:19] <= (previous.last_modified or "")[:19]
        self._state.set(
            run.survey_id,
            SurveyCursor(
                continuation_token=run.continuation_token,
                token_issued_at=utc_now_iso() if run.continuation_token else None,
                last_modified=previous.last_modified if keep_previous else newest,
            ),
        )


def to_record(survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one exported response: Qualtrics' objects as they are, plus promoted top-level columns.

    Runs once per response, so it is written out flat (no loops or helper calls): text columns keep
    strings only, integer columns take numbers but not booleans, `finished` takes 0/1 or a boolean.
    """
    values = raw.get("values")
    if not isinstance(values, dict):
        values = {}
    get = values.get
    recorded, start, end = get("recordedDate"), get("startDate"), get("endDate")
    channel, language = get("distributionChannel"), get("userLanguage")
    status, progress, duration = get("status"), get("progress"), get("duration")
    finished = get("finished")
    modified = get("lastModifiedDate") or get("LastModifiedDate")
    recorded = recorded if isinstance(recorded, str) else None
    return {
        "surveyId": survey_id,
        "responseId": raw.get("responseId") or get("_recordId"),
        "recordedDate": recorded,
        "startDate": start if isinstance(start, str) else None,
        "endDate": end if isinstance(end, str) else None,
        "distributionChannel": channel if isinstance(channel, str) else None,
        "userLanguage": language if isinstance(language, str) else None,
        "status": int(status) if isinstance(status, (int, float)) and not isinstance(status, bool) else None,
        "progress": int(progress)
        if isinstance(progress, (int, float)) and not isinstance(progress, bool)
        else None,
        "duration": int(duration)
        if isinstance(duration, (int, float)) and not isinstance(duration, bool)
        else None,
        "finished": bool(finished) if isinstance(finished, int) else None,
        "lastModifiedDate": modified if isinstance(modified, str) else recorded,
        "values": values,
        "labels": raw.get("labels"),
        "displayedFields": raw.get("displayedFields"),
        "displayedValues": raw.get("displayedValues"),
    }


def _floor_to_second(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp[:19] + "+00:00")
    except ValueError:
        return None
