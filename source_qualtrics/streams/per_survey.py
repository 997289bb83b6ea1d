"""Opt-in typed streams, one per survey: `responses_<survey id>` with one column per answer field.

The stream name uses the survey id, which never changes, so renaming a survey does not break a
connection. Its schema comes from the survey definition (see `survey_schema`), so discovery starts no
export. Reading works exactly like `responses` for that one survey: same exports, same per-survey
continuation cursor, same failure handling.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import QualtricsConfig
from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.export import ExportRun
from source_qualtrics.streams.base import list_survey_ids
from source_qualtrics.streams.export_stream import PlannedExport
from source_qualtrics.streams.responses import Responses
from source_qualtrics.streams.survey_schema import (
    METADATA_COLUMNS,
    OTHER_COLUMN,
    Column,
    json_schema,
    survey_columns,
)

logger = logging.getLogger("airbyte")


class SurveyResponses(Responses):
    """One survey's responses as a typed table."""

    def __init__(
        self,
        client: QualtricsClient,
        config: QualtricsConfig,
        survey_id: str,
        columns: list[Column],
        **kwargs: Any,
    ):
        super().__init__(client, config, **kwargs)
        self._survey_id = survey_id
        self._columns = columns
        self._known = (
            frozenset(column.name for column in columns) | frozenset(METADATA_COLUMNS) | {"_recordId"}
        )

    @property
    def name(self) -> str:
        return f"responses_{self._survey_id}"

    def survey_ids(self) -> list[str]:
        return [self._survey_id]

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]
        return json_schema(self._columns)

    def records_of(self, run: ExportRun, planned: PlannedExport) -> Iterator[Mapping[str, Any]]:
        for record in super().records_of(run, planned):
            if isinstance(record, Mapping):
                yield self.typed(record)

    def typed(self, record: Mapping[str, Any]) -> dict[str, Any]:
        row = {name: record.get(name) for name in METADATA_COLUMNS}
        values = record.get("values") or {}
        for column in self._columns:
            row[column.name] = column.coerce(values.get(column.name))
        other = {key: value for key, value in values.items() if key not in self._known}
        row[OTHER_COLUMN] = other or None
        return row


def per_survey_streams(
    client: QualtricsClient, config: QualtricsConfig, **kwargs: Any
) -> list[SurveyResponses]:
    """A typed stream per survey whose definition the token can read; the others get a warning."""
    streams = []
    for survey_id in list_survey_ids(client, config):
        try:
            definition = client.get_result(f"survey-definitions/{survey_id}")
        except QualtricsApiError as error:
            if error.status not in (403, 404):
                raise
            logger.warning(
                "No typed stream for survey %s: its definition cannot be read (%s)", survey_id, error
            )
            continue
        streams.append(SurveyResponses(client, config, survey_id, survey_columns(definition), **kwargs))
    return streams
