"""Opt-in typed streams, one per survey: `responses_<survey id>` with one column per answer field.

The stream name uses the survey id, which never changes, so renaming a survey does not break a
connection. Its schema comes from the survey definition (see `survey_schema`), so discovery starts no
export. Reading works exactly like `responses` for that one survey: same exports, same per-survey
continuation cursor, same failure handling.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.export import ExportTask
from source_qualtrics.fan_out import fan_out
from source_qualtrics.streams.responses import Responses, answers_of, promoted_columns
from source_qualtrics.streams.survey_schema import (
    METADATA_COLUMNS,
    OTHER_COLUMN,
    Column,
    json_schema,
    survey_columns,
)
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")


class SurveyResponses(Responses):
    """One survey's responses as a typed table."""

    checks_completeness = False

    def __init__(self, sync: SyncContext, survey_id: str, columns: list[Column], **kwargs: Any):
        super().__init__(sync, **kwargs)
        self._survey_id = survey_id
        self._columns = columns
        self._known = (
            frozenset(column.name for column in columns) | frozenset(METADATA_COLUMNS) | {"_recordId"}
        )
        self._blank = dict.fromkeys(column.name for column in columns)
        self._by_name = {column.name: (column.exact_type, column) for column in columns}

    @property
    def name(self) -> str:
        return f"responses_{self._survey_id}"

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        return super().tasks(survey_id, sync_mode) if survey_id == self._survey_id else []

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]
        return json_schema(self._columns)

    def shape(self, survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The typed row of one exported response: the promoted metadata columns (as in `responses`),
        every answer column (None when not answered), and `_other`.

        Runs once per response over every answer it holds (up to hundreds): it walks the answers the
        response has rather than every column, and a value already of its column's type (nearly all
        of them: exports are typed) is taken as it is; only the others go through `Column.coerce`.
        """
        values = answers_of(raw)
        row = promoted_columns(survey_id, raw, values)
        row.update(self._blank)
        by_name, known = self._by_name, self._known
        other = {}
        for key, value in values.items():
            typed_as = by_name.get(key)
            if typed_as is not None:
                exact, column = typed_as
                row[key] = value if type(value) is exact else column.coerce(value)
            elif key not in known:
                other[key] = value
        row[OTHER_COLUMN] = other or None
        return row


def per_survey_streams(sync: SyncContext, **kwargs: Any) -> list[SurveyResponses]:
    """A typed stream per survey whose definition the token can read; the others get a warning."""
    streams = []
    client = sync.client
    read = fan_out(
        sync.survey_ids(),
        lambda survey_id: [client.get_result(f"survey-definitions/{survey_id}")],
        ahead=client.max_concurrent_requests,
    )
    for survey_id, fetched in read:  # the next surveys' definitions are fetched meanwhile
        try:
            definition = next(iter(fetched))
        except QualtricsApiError as error:
            if error.status not in (403, 404):
                raise
            logger.warning(
                "No typed stream for survey %s: its definition cannot be read (%s)", survey_id, error
            )
            continue
        streams.append(SurveyResponses(sync, survey_id, survey_columns(definition), **kwargs))
    return streams
