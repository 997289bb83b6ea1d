"""`response_ids`: the ids of the responses that exist now, so a destination can find deleted ones.

Qualtrics exports never show a deleted response and there is no tombstone feed; the only signal is the
counter `responseCounts.deleted` of `GET /surveys/{id}`. This stream runs a cheap id-only export per
survey (no questions, no embedded data, one metadata field) and emits one small record per existing
response, all stamped with the same `snapshotAt` per survey (taken before any export starts). A
response synced by `responses` that was recorded before its survey's latest `snapshotAt` but is absent
from that snapshot was deleted in Qualtrics (the query is in docs/streams-directory.md).

- Full refresh: every survey is exported every sync (overwrite the destination table).
- Incremental: one `GET /surveys/{id}` per survey first; a survey is exported only when its
  `responseCounts.deleted` differs from the value seen at its last snapshot (never-deleted surveys
  count as 0), or cannot be read. Ids
  still present get the new `snapshotAt` (the cursor; use append+dedup on the primary key), ids of
  deleted responses keep their older one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime, timezone
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.errors import ExportFailed, QualtricsApiError
from source_qualtrics.export import ExportRequest, ExportRun
from source_qualtrics.streams.export_stream import PlannedExport, SurveyExportStream
from source_qualtrics.streams.partitioned_state import dump_partitions, load_partitions

logger = logging.getLogger("airbyte")

# The smallest export Qualtrics makes: response ids plus one metadata column.
ID_ONLY_EXPORT: dict[str, Any] = {
    "format": "ndjson",
    "compress": True,
    "questionIds": [],
    "embeddedDataIds": [],
    "surveyMetadataIds": ["recordedDate"],
}


class ResponseIds(SurveyExportStream, IncrementalMixin):
    primary_key = ["surveyId", "responseId"]
    cursor_field = "snapshotAt"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: dict[str, dict[str, Any]] = {}
        self._snapshot_at = ""

    @property
    def name(self) -> str:
        return "response_ids"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return dump_partitions(self._cursors)

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors = load_partitions(value)

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

    def plan(self, sync_mode: SyncMode) -> list[PlannedExport]:
        self._snapshot_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        planned: list[PlannedExport] = []
        for survey_id in self.survey_ids():
            deleted: int | None = None
            if sync_mode == SyncMode.incremental:
                deleted = self.deleted_count(survey_id)
                previous = (self._cursors.get(survey_id) or {}).get("deletedCount")
                unchanged = deleted is not None and deleted == (previous or 0)
                if unchanged:
                    logger.info(
                        "response_ids: survey %s has %s deleted response(s), as at its last snapshot; "
                        "no export needed",
                        survey_id,
                        deleted,
                    )
                    continue
            request = ExportRequest(survey_id, dict(ID_ONLY_EXPORT))
            planned.append(PlannedExport(request, {"deleted_count": deleted}))
        return planned

    def records_of(self, run: ExportRun, planned: PlannedExport) -> Iterator[Mapping[str, Any]]:
        count = 0
        for raw in run.records():
            values = raw.get("values")
            values = values if isinstance(values, Mapping) else {}
            response_id = raw.get("responseId") or values.get("_recordId")
            if not isinstance(response_id, str):
                continue
            recorded = values.get("recordedDate")
            count += 1
            yield {
                "surveyId": run.survey_id,
                "responseId": response_id,
                "recordedDate": recorded if isinstance(recorded, str) else None,
                "snapshotAt": self._snapshot_at,
            }
        logger.info(
            "response_ids: survey %s has %d response(s) at %s", run.survey_id, count, self._snapshot_at
        )

    def survey_done(self, run: ExportRun, planned: PlannedExport, sync_mode: SyncMode) -> None:
        if sync_mode == SyncMode.incremental:
            self._cursors[run.survey_id] = {
                "snapshotAt": self._snapshot_at,
                "deletedCount": planned.context.get("deleted_count"),
            }

    def tolerated(self, failure: ExportFailed) -> bool:
        """403/404 is a permission matter (reported by `responses` as well), not a reason to fail."""
        if failure.is_config_error:
            logger.warning(
                "response_ids: the token's user cannot export survey %s (permission 'Download Survey "
                "Responses', OAuth scope read:survey_responses)",
                failure.survey_id,
            )
        return failure.is_config_error
