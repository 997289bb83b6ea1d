"""One sync's survey definitions, shared by every stream built from them.

`survey_questions`, `survey_blocks`, `block_questions`, `question_options` and `sub_questions` are all
cuts of the same `GET /survey-definitions/{id}` payload. Fetching it once per stream would multiply the
most expensive per-survey call by five, so the source hands these streams one `SurveyDefinitions` per
sync: a survey's definition is fetched at most once while its `lastModified` stays the same, and kept
trimmed to the parts the streams read.

Each stream still keeps its own per-survey cursor (the survey's `lastModified`), so a stream added
later reads every survey once, and an unchanged survey costs nothing. The definitions a stream needs
are fetched a few surveys ahead in worker threads (`fan_out`) and used in survey order.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.fan_out import fan_out
from source_qualtrics.streams.base import what_to_grant
from source_qualtrics.streams.partitioned_state import SurveyStamps, survey_groups
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")

#: the parts of a definition the definition-fed streams read; the rest (flow, options, scoring) is dropped
KEPT_PARTS = ("SurveyID", "LastModified", "Questions", "Blocks", "SurveyFlow")
DEFINITION_PERMISSION = "view access to the survey definition (the survey shared with the token's user)"
DEFINITION_SCOPE = "read:surveys"


def trim(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Only the parts the streams read: definitions read ahead wait in memory."""
    return {part: definition[part] for part in KEPT_PARTS if part in definition}


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

    def definitions(
        self, survey_ids: Iterable[str], stream: str
    ) -> Iterator[tuple[str, str | None, Mapping[str, Any] | None]]:
        """Each survey with its `lastModified` and trimmed definition (see `definition`), in order;
        the definitions not cached yet are fetched ahead in worker threads."""
        wanted = ((survey_id, self.last_modified(survey_id)) for survey_id in survey_ids)
        fetches = fan_out(wanted, self._fetch_unless_cached, ahead=self._client.max_concurrent_requests)
        for (survey_id, modified), fetched in fetches:
            yield survey_id, modified, self.definition(survey_id, modified, stream, fetched)

    def _fetch_unless_cached(self, wanted: tuple[str, str | None]) -> Iterator[dict[str, Any]]:
        survey_id, modified = wanted
        if self._cached(survey_id, modified) is not None:
            return iter(())
        return iter([trim(self._client.get_result(f"survey-definitions/{survey_id}"))])

    def _cached(
        self, survey_id: str, modified: str | None
    ) -> tuple[str | None, Mapping[str, Any] | None] | None:
        cached = self._cache.get(survey_id)
        return cached if cached is not None and cached[0] == modified else None

    def definition(
        self, survey_id: str, modified: str | None, stream: str, fetched: Iterable[dict[str, Any]] = ()
    ) -> Mapping[str, Any] | None:
        """The trimmed definition; None (warned once per survey) when Qualtrics refuses or lost it.
        `fetched`: its fetch already under way, if any (else it is fetched here)."""
        cached = self._cached(survey_id, modified)
        if cached is not None:
            if cached[1] is None:
                logger.info("%s: survey %s skipped (its definition could not be read)", stream, survey_id)
            return cached[1]
        self.fetches += 1
        try:
            result = next(iter(fetched), None)
            if result is None:
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
        trimmed = trim(result)
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
        survey_ids = (stream_slice or {}).get("survey_ids", ())
        for survey_id, modified, definition in self._definitions.definitions(survey_ids, self.name):
            if definition is None:
                continue
            yield from self.rows(survey_id, definition)
            if modified:
                self._cursors[survey_id] = modified
        self._cursors.checkpoint()
