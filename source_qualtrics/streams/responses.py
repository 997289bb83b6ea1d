"""`responses`: every survey's responses through the export job, one partition per survey.

Incremental syncs ask Qualtrics for what changed since the last export of that survey (continuation
token with `sortByLastModifiedDate`: new *and* edited responses), or, when no usable token exists,
for a window from the newest last-modified timestamp seen. A survey's cursor moves only after all
of its records were handed to the platform, so an interrupted or failed export never loses data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin, Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import QualtricsConfig, format_api_datetime
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export import (
    ExportPipeline,
    ExportRequest,
    ExportTiming,
    ResponseExporter,
    make_spool_dir,
    remove_spool_dir,
)
from source_qualtrics.streams.response_state import ResponsesState, SurveyCursor, utc_now_iso

logger = logging.getLogger("airbyte")

# Metadata keys of `values` promoted to top-level columns, with the type each column is declared as.
PROMOTED_TEXT = ("recordedDate", "startDate", "endDate", "distributionChannel", "userLanguage")
PROMOTED_INT = ("status", "progress", "duration")


class Responses(Stream, IncrementalMixin):
    primary_key = "responseId"
    cursor_field = "lastModifiedDate"

    def __init__(
        self,
        client: QualtricsClient,
        config: QualtricsConfig,
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._config = config
        self._timing = timing
        self._sleep = sleep
        self._state = ResponsesState()
        self._pipeline: ExportPipeline | None = None
        self._spool_dir: Path | None = None
        self._failures: list[ExportFailed] = []

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

    # -- slices: one per survey, with the exports started ahead ---------------------------------------

    def survey_ids(self) -> list[str]:
        if self._config.survey_ids:
            return list(self._config.survey_ids)
        return [element["id"] for element in self._client.paginate("surveys") if element.get("id")]

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        survey_ids = self.survey_ids()
        incremental = sync_mode == SyncMode.incremental
        requests = [self._export_request(survey_id, incremental) for survey_id in survey_ids]
        self._spool_dir = make_spool_dir()
        exporter = ResponseExporter(self._client, self._spool_dir, timing=self._timing, sleep=self._sleep)
        self._pipeline = ExportPipeline(exporter, requests, self._config.max_concurrent_exports)
        logger.info(
            "responses: %d survey(s) to export, up to %d at a time",
            len(survey_ids),
            self._config.max_concurrent_exports,
        )
        for survey_id in survey_ids:
            yield {"survey_id": survey_id}

    def _export_request(self, survey_id: str, incremental: bool) -> ExportRequest:
        base: dict[str, Any] = {
            "format": "ndjson",
            "compress": True,
            "sortByLastModifiedDate": True,
        }
        cursor = self._state.get(survey_id) if incremental else None
        window = dict(base, allowContinuation=True)
        since = self._config.start_date
        if cursor and cursor.last_modified:
            since = _floor_to_second(cursor.last_modified) or since
        if since:
            window["startDate"] = format_api_datetime(since)
        token = cursor.usable_token(datetime.now(timezone.utc)) if cursor else None
        if cursor and cursor.continuation_token and not token:
            logger.warning(
                "Survey %s: the stored continuation token is older than Qualtrics keeps tokens; "
                "exporting responses modified since %s instead.",
                survey_id,
                window.get("startDate", "the start date"),
            )
        if token:
            return ExportRequest(survey_id, dict(base, continuationToken=token), fallback_body=window)
        return ExportRequest(survey_id, window)

    # -- records ----------------------------------------------------------------------------------

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        if not stream_slice or self._pipeline is None:
            return
        survey_id = stream_slice["survey_id"]
        try:
            run = self._pipeline.next_run(survey_id)
        except (ExportFailed, QualtricsApiError, QualtricsConnectionError) as error:
            self._record_failure(survey_id, error)
            return
        except Exception as error:  # an unexpected fault in one survey must not cost the others their sync
            logger.exception("Survey %s: unexpected error while exporting", survey_id)
            self._record_failure(survey_id, error)
            return
        newest_key = ""
        newest = None
        count = 0
        try:
            for raw in run.records():
                record = to_record(survey_id, raw)
                modified = record["lastModifiedDate"]
                if isinstance(modified, str) and modified[:19] > newest_key:
                    newest_key, newest = modified[:19], modified
                count += 1
                yield record
        except ExportFailed as error:
            self._record_failure(survey_id, error)
            return
        finally:
            run.path.unlink(missing_ok=True)
        logger.info("Survey %s: %d response(s) read", survey_id, count)
        if sync_mode == SyncMode.incremental:
            previous = self._state.get(survey_id) or SurveyCursor()
            self._state.set(
                survey_id,
                SurveyCursor(
                    continuation_token=run.continuation_token,
                    token_issued_at=utc_now_iso() if run.continuation_token else None,
                    last_modified=newest
                    if newest and newest_key > (previous.last_modified or "")[:19]
                    else previous.last_modified,
                ),
            )

    def read(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Read every survey; only then report the ones that failed, so the others keep their progress."""
        self._failures = []
        try:
            yield from super().read(*args, **kwargs)
        finally:
            if self._spool_dir is not None:
                remove_spool_dir(self._spool_dir)
                self._spool_dir = None
        if self._failures:
            listing = "; ".join(str(failure) for failure in self._failures)
            all_config = all(failure.is_config_error for failure in self._failures)
            raise AirbyteTracedException(
                message=f"{len(self._failures)} survey(s) could not be exported and keep their previous "
                f"cursor: {listing}",
                internal_message=listing,
                failure_type=FailureType.config_error if all_config else FailureType.system_error,
            )

    def _record_failure(self, survey_id: str, error: Exception) -> None:
        failure = error if isinstance(error, ExportFailed) else ExportFailed(survey_id, str(error))
        logger.error("Survey %s: export failed, its cursor is unchanged: %s", survey_id, failure.reason)
        self._failures.append(failure)


def to_record(survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one exported response: Qualtrics' objects as they are, plus promoted top-level columns."""
    values = raw.get("values")
    if not isinstance(values, dict):
        values = {}
    record: dict[str, Any] = {
        "surveyId": survey_id,
        "responseId": raw.get("responseId") or values.get("_recordId"),
    }
    for key in PROMOTED_TEXT:
        value = values.get(key)
        record[key] = value if isinstance(value, str) else None
    for key in PROMOTED_INT:
        value = values.get(key)
        record[key] = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    finished = values.get("finished")
    record["finished"] = bool(finished) if isinstance(finished, (int, bool)) else None
    modified = values.get("lastModifiedDate") or values.get("LastModifiedDate")
    record["lastModifiedDate"] = modified if isinstance(modified, str) else record["recordedDate"]
    record["values"] = values
    record["labels"] = raw.get("labels")
    record["displayedFields"] = raw.get("displayedFields")
    record["displayedValues"] = raw.get("displayedValues")
    return record


def _floor_to_second(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp[:19] + "+00:00")
    except ValueError:
        return None
