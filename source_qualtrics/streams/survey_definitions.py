"""One sync's survey definitions, shared by every stream built from them.

`survey_questions`, `survey_blocks`, `block_questions`, `question_options` and `sub_questions` are all
cuts of the same `GET /survey-definitions/{id}` payload. Fetching it once per stream would multiply the
most expensive per-survey call by five, so the source hands these streams one `SurveyDefinitions` per
sync: a survey's definition is fetched at most once while its `lastModified` stays the same, and kept
trimmed to the parts the streams read.

Each stream still keeps its own per-survey cursor (the survey's `lastModified`), so a stream added
later reads every survey once, and an unchanged survey costs nothing.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import what_to_grant
from source_qualtrics.streams.partitioned_state import SurveyStamps, survey_groups
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")

#: the parts of a definition the definition-fed streams read; the rest (flow, options, scoring) is dropped
KEPT_PARTS = ("SurveyID", "LastModified", "Questions", "Blocks", "SurveyFlow")
DEFINITION_PERMISSION = "view access to the survey definition (the survey shared with the token's user)"
DEFINITION_SCOPE = "read:surveys"


class SurveyDefinitions:
    """Survey ids, their `lastModified` and their definitions, each read at most once per sync."""

    def __init__(self, sync: SyncContext) -> None:
        self._sync = sync
        self._client = sync.client
        self._cache: dict[str, tuple[str | None, Mapping[str, Any] | None]] = {}
        self.fetches = 0

    def survey_ids(self) -> list[str]:
        return self._sync.survey_ids()

    def last_modified(self, survey_id: str) -> str | None:
        """The survey's `lastModified` as this sync's survey list gives it."""
        modified = self._sync.listed(survey_id).get("lastModified")
        return modified if isinstance(modified, str) else None

    def definition(self, survey_id: str, modified: str | None, stream: str) -> Mapping[str, Any] | None:
        """The trimmed definition; None (warned once per survey) when Qualtrics refuses or lost it."""
        cached = self._cache.get(survey_id)
        if cached is not None and cached[0] == modified:
            if cached[1] is None:
                logger.info("%s: survey %s skipped (its definition could not be read)", stream, survey_id)
            return cached[1]
        self.fetches += 1
        try:
            result = self._client.get_result(f"survey-definitions/{survey_id}")
        except QualtricsApiError as error:
            if error.status not in (403, 404):
                raise
            logger.warning(
                "%s and the other survey-structure streams skip survey %s: GET /survey-definitions/%s "
                "answered %s. %s",
                stream,
                survey_id,
                survey_id,
                error,
                what_to_grant(DEFINITION_PERMISSION, DEFINITION_SCOPE),
            )
            self._cache[survey_id] = (modified, None)
            return None
        trimmed = {part: result[part] for part in KEPT_PARTS if part in result}
        self._cache[survey_id] = (modified, trimmed)
        return trimmed


class DefinitionStream(Stream, IncrementalMixin):
    """A stream of rows cut from each survey's definition, re-read only when the survey changed."""

    cursor_field = "surveyLastModified"

    def __init__(self, definitions: SurveyDefinitions) -> None:
        self._definitions = definitions
        self._cursors = SurveyStamps("lastModified")

    @abstractmethod
    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        """This stream's records for one survey."""

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursors.snapshot

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors.load(value, self.name)

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        changed = [
            survey_id
            for survey_id in self._definitions.survey_ids()
            if sync_mode != SyncMode.incremental
            or not (modified := self._definitions.last_modified(survey_id))
            or self._cursors.get(survey_id) != modified  # else: definition unchanged since the last sync
        ]
        for group in survey_groups(changed):
            yield {"survey_ids": group}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        for survey_id in (stream_slice or {}).get("survey_ids", ()):
            modified = self._definitions.last_modified(survey_id)
            definition = self._definitions.definition(survey_id, modified, self.name)
            if definition is None:
                continue
            yield from self.rows(survey_id, definition)
            if modified:
                self._cursors[survey_id] = modified
        self._cursors.checkpoint()
