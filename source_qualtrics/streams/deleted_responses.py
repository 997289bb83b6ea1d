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
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.dates import iso_millis, now
from source_qualtrics.export import ExportTask
from source_qualtrics.streams.export_stream import SurveyExportStream
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
        self._state: dict[str, Any] = {}
        self._snapshot_at = ""
        self._deleted_counts: dict[str, int | None] = {}

    @property
    def name(self) -> str:
        return "response_ids"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state  # the CDK reads it after every record: built only at checkpoints

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors = load_partitions(value, self.name)
        self.checkpoint()

    def checkpoint(self) -> None:
        self._state = dump_partitions(self._cursors)

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        self._snapshot_at = iso_millis(now())  # one instant per sync, taken before any export starts
        yield from super().stream_slices(
            sync_mode=sync_mode, cursor_field=cursor_field, stream_state=stream_state
        )

    def prefetch(self, survey_id: str, sync_mode: SyncMode) -> None:
        if sync_mode == SyncMode.incremental:
            self._sync.details(survey_id)  # its deleted count decides whether a snapshot is needed

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        deleted: int | None = None
        if sync_mode == SyncMode.incremental:
            counts = self._sync.response_counts(survey_id)
            deleted = counts.get("deleted") if counts else None
            previous = (self._cursors.get(survey_id) or {}).get("deletedCount")
            if deleted is not None and deleted == (previous or 0):
                logger.info(
                    "response_ids: survey %s has %s deleted response(s), as at its last snapshot; "
                    "no export needed",
                    survey_id,
                    deleted,
                )
                return []
        self._deleted_counts[survey_id] = deleted
        return [ExportTask(survey_id, dict(ID_ONLY_EXPORT))]

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        count = 0
        for raw in lines:
            values = raw.get("values")
            values = values if isinstance(values, Mapping) else {}
            response_id = raw.get("responseId") or values.get("_recordId")
            if not isinstance(response_id, str):
                continue
            recorded = values.get("recordedDate")
            count += 1
            yield {
                "surveyId": task.survey_id,
                "responseId": response_id,
                "recordedDate": recorded if isinstance(recorded, str) else None,
                "snapshotAt": self._snapshot_at,
            }
        logger.info(
            "response_ids: survey %s has %d response(s) at %s", task.survey_id, count, self._snapshot_at
        )

    def export_done(self, task: ExportTask, continuation_token: str | None) -> None:
        self._cursors[task.survey_id] = {
            "snapshotAt": self._snapshot_at,
            "deletedCount": self._deleted_counts.get(task.survey_id),
        }
