"""`response_ids`: the ids of the responses that exist now, so a destination can find deleted ones.

Qualtrics exports never show a deleted response and there is no tombstone feed; the only signal is the
counter `responseCounts.deleted` of `GET /surveys/{id}`. This stream runs a cheap id-only export per
survey (no questions, no embedded data, one metadata field) and emits one small record per existing
response, all stamped with the same `snapshotAt` per survey (taken before any export starts). A
response synced by `responses` that was recorded before its survey's latest `snapshotAt` but is absent
from that snapshot was deleted in Qualtrics (the query is in docs/streams-directory.md).

- Full refresh: every survey is exported every sync (overwrite the destination table).
- Incremental: one `GET /surveys/{id}` per survey first; a survey is exported only when its
  `responseCounts.deleted` is above zero and differs from the value seen at its last snapshot. Ids
  still present get the new `snapshotAt` (the cursor; use append+dedup on the primary key), ids of
  deleted responses keep their older one.
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
from source_qualtrics.config import QualtricsConfig
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export import (
    ExportPipeline,
    ExportRequest,
    ExportTiming,
    ResponseExporter,
    make_spool_dir,
    remove_spool_dir,
)
from source_qualtrics.streams.base import list_survey_ids

logger = logging.getLogger("airbyte")

# The smallest export Qualtrics makes: response ids plus one metadata column.
ID_ONLY_EXPORT: dict[str, Any] = {
    "format": "ndjson",
    "compress": True,
    "questionIds": [],
    "embeddedDataIds": [],
    "surveyMetadataIds": ["recordedDate"],
}


class ResponseIds(Stream, IncrementalMixin):
    primary_key = ["surveyId", "responseId"]
    cursor_field = "snapshotAt"

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
        self._cursors: dict[str, dict[str, Any]] = {}
        self._pipeline: ExportPipeline | None = None
        self._spool_dir: Path | None = None
        self._snapshot_at = ""
        self._failures: list[ExportFailed] = []

    @property
    def name(self) -> str:
        return "response_ids"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {
            "states": [
                {"partition": {"survey_id": survey_id}, "cursor": dict(cursor)}
                for survey_id, cursor in sorted(self._cursors.items())
            ]
        }

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors = {}
        for entry in (value or {}).get("states") or []:
            if not isinstance(entry, Mapping):
                continue
            survey_id = (entry.get("partition") or {}).get("survey_id")
            cursor = entry.get("cursor")
            if isinstance(survey_id, str) and isinstance(cursor, Mapping):
                self._cursors[survey_id] = dict(cursor)

    # -- which surveys to export ----------------------------------------------------------------------

    def deleted_count(self, survey_id: str) -> int | None:
        """`responseCounts.deleted` of the survey; None when it cannot be read (then it is exported)."""
        try:
            result = self._client.get_result(f"surveys/{survey_id}")
        except QualtricsApiError as error:
            logger.warning("response_ids: could not read the response counts of %s (%s)", survey_id, error)
            return None
        counts = result.get("responseCounts")
        deleted = counts.get("deleted") if isinstance(counts, Mapping) else None
        return deleted if isinstance(deleted, int) and not isinstance(deleted, bool) else None

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        self._snapshot_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        planned: list[dict[str, Any]] = []
        for survey_id in list_survey_ids(self._client, self._config):
            deleted: int | None = None
            if sync_mode == SyncMode.incremental:
                deleted = self.deleted_count(survey_id)
                previous = (self._cursors.get(survey_id) or {}).get("deletedCount")
                if deleted == 0 or (deleted is not None and deleted == previous):
                    logger.info(
                        "response_ids: survey %s has %s deleted response(s), as at its last snapshot; "
                        "no export needed",
                        survey_id,
                        deleted,
                    )
                    continue
            planned.append({"survey_id": survey_id, "deleted_count": deleted})
        requests = [ExportRequest(entry["survey_id"], dict(ID_ONLY_EXPORT)) for entry in planned]
        self._spool_dir = make_spool_dir()
        exporter = ResponseExporter(self._client, self._spool_dir, timing=self._timing, sleep=self._sleep)
        self._pipeline = ExportPipeline(exporter, requests, self._config.max_concurrent_exports)
        logger.info("response_ids: %d survey(s) to snapshot", len(planned))
        yield from planned

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
        count = 0
        try:
            for raw in run.records():
                values = raw.get("values")
                values = values if isinstance(values, Mapping) else {}
                response_id = raw.get("responseId") or values.get("_recordId")
                if not isinstance(response_id, str):
                    continue
                recorded = values.get("recordedDate")
                count += 1
                yield {
                    "surveyId": survey_id,
                    "responseId": response_id,
                    "recordedDate": recorded if isinstance(recorded, str) else None,
                    "snapshotAt": self._snapshot_at,
                }
        except ExportFailed as error:
            self._record_failure(survey_id, error)
            return
        finally:
            run.path.unlink(missing_ok=True)
        logger.info("response_ids: survey %s has %d response(s) at %s", survey_id, count, self._snapshot_at)
        if sync_mode == SyncMode.incremental:
            self._cursors[survey_id] = {
                "snapshotAt": self._snapshot_at,
                "deletedCount": stream_slice.get("deleted_count"),
            }

    def read(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._failures = []
        try:
            yield from super().read(*args, **kwargs)
        finally:
            if self._spool_dir is not None:
                remove_spool_dir(self._spool_dir)
                self._spool_dir = None
        if self._failures:
            listing = "; ".join(str(failure) for failure in self._failures)
            raise AirbyteTracedException(
                message=f"response_ids: {len(self._failures)} survey(s) could not be snapshotted and keep "
                f"their previous snapshot: {listing}",
                internal_message=listing,
                failure_type=FailureType.config_error
                if all(failure.is_config_error for failure in self._failures)
                else FailureType.system_error,
            )

    def _record_failure(self, survey_id: str, error: Exception) -> None:
        failure = error if isinstance(error, ExportFailed) else ExportFailed(survey_id, str(error))
        if failure.is_config_error:  # 403/404: a permission matter, reported by `responses` as well
            logger.warning(
                "response_ids: survey %s skipped, the token's user cannot export its responses "
                "(permission 'Download Survey Responses', OAuth scope read:survey_responses): %s",
                survey_id,
                failure.reason,
            )
            return
        logger.error("response_ids: survey %s could not be exported: %s", survey_id, failure.reason)
        self._failures.append(failure)
