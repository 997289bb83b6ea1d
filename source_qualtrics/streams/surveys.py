"""`surveys`: the survey list, incremental on `lastModified`.

Qualtrics' list has no modified-since filter, so the sync's one walk of all pages is filtered here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import Stream

from source_qualtrics.dates import NewestTimestamp, parse_instant
from source_qualtrics.streams.single_cursor import SingleCursor
from source_qualtrics.sync import SyncContext

SURVEY_FIELDS = ("id", "name", "ownerId", "lastModified", "creationDate", "isActive")


class Surveys(SingleCursor, Stream):
    primary_key = "id"
    cursor_field = "lastModified"

    def __init__(self, sync: SyncContext) -> None:
        self._sync = sync
        survey_ids = sync.config.survey_ids
        self._survey_ids = frozenset(survey_ids) if survey_ids else None
        self._cursor: str | None = None

    @property
    def name(self) -> str:
        return "surveys"

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        # `>=` keeps a survey edited twice within the cursor's second; the key `id` dedupes it.
        since = parse_instant(self._cursor) if sync_mode == SyncMode.incremental else None
        newest = NewestTimestamp(self._cursor)
        for element in self._sync.surveys():
            if self._survey_ids is not None and element.get("id") not in self._survey_ids:
                continue
            record = {name: element.get(name) for name in SURVEY_FIELDS}
            modified = parse_instant(record["lastModified"])
            if since and modified and modified < since:
                continue
            newest.see(record["lastModified"])
            yield record
        if sync_mode == SyncMode.incremental:
            self._cursor = newest.value
