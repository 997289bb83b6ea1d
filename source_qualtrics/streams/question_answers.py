"""`question_answers`: responses in long format, one row per response x answer field (x chosen choice).

Analysts want to filter and join by question, not parse a JSON blob of `QID17_3` keys. Each row says
which question (`questionId`), which part of it (`subField`: a matrix row, `TEXT`, `NPS_GROUP`, a
choice's "other" text) and, for multi-select answers, which choice; it carries the raw value, its
label and the response's last-modified date. Rows are keyed (`surveyId`, `responseId`, `answerKey`),
so a re-exported (edited) response replaces its rows, and its lost answers get tombstones
(`answer_keys.py`).

It has its own per-survey cursors, with the same logic as `responses`. When both streams are synced
at the same cursors, they ask for the very same exports, and the second stream reads the files the
first one downloaded in this sync (export_cache.py) instead of exporting again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from source_qualtrics.export import ExportTask
from source_qualtrics.streams.answer_keys import (
    field_parts,
    possible_answer_keys,
    row_identity,
    tombstones,
    was_edited,
)
from source_qualtrics.streams.responses import METADATA_KEYS, Responses
from source_qualtrics.streams.survey_definitions import SurveyDefinitions
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")


def answer_rows(response: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Long-format rows of one shaped `responses` record (see `to_record`)."""
    values = response.get("values") or {}
    labels = response.get("labels") or {}
    base = row_identity(response)
    for field, value in values.items():
        if field in METADATA_KEYS or value is None:
            continue
        label = labels.get(field) if isinstance(labels, Mapping) else None
        common = dict(base, **field_parts(field))
        if isinstance(value, list):
            label_list = (
                label if isinstance(label, list) and len(label) == len(value) else [None] * len(value)
            )
            for item, item_label in zip(value, label_list, strict=True):
                yield dict(
                    common,
                    answerKey=f"{field}#{item}",
                    choice=str(item),
                    value=str(item),
                    valueNumber=_number(item),
                    label=item_label if isinstance(item_label, str) else None,
                )
        else:
            yield dict(
                common,
                answerKey=field,
                choice=None,
                value=value if isinstance(value, str) else str(value),
                valueNumber=_number(value),
                label=label if isinstance(label, str) else None,
            )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class QuestionAnswers(Responses):
    """The long-format stream, with the same per-survey cursor logic as `responses`."""

    primary_key = ["surveyId", "responseId", "answerKey"]
    cursor_field = "responseLastModified"
    checks_completeness = False

    def __init__(self, sync: SyncContext, definitions: SurveyDefinitions, **kwargs: Any) -> None:
        super().__init__(sync, **kwargs)
        self._definitions = definitions
        self._possible_keys: dict[str, frozenset[str]] = {}

    @property
    def name(self) -> str:
        return "question_answers"

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for response in super().records_of(task, lines):
            yield from self.rows_of(response)

    def expected_rows(self) -> int | None:
        return None  # rows per response vary with the answers given: no honest estimate up front

    def rows_of(self, response: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The response's answer rows, then a tombstone for each answer key an edit took away."""
        rows = list(answer_rows(response))
        yield from rows
        if was_edited(response):
            current = {row["answerKey"] for row in rows}
            yield from tombstones(response, current, self.possible_keys(response["surveyId"]))

    def possible_keys(self, survey_id: str) -> frozenset[str]:
        """Answer keys the survey's export can hold, from the sync's shared definition reader (one read
        per survey per sync, whichever stream asks first), and only for surveys with an edited response."""
        if survey_id not in self._possible_keys:
            definitions = self._definitions
            definition = definitions.definition(survey_id, definitions.last_modified(survey_id), self.name)
            if definition is None:  # the reader said why; what it costs here:
                logger.warning(
                    "question_answers: survey %s: no tombstones, so answers removed by edits stay in "
                    "deduplicated destinations",
                    survey_id,
                )
            keys = possible_answer_keys(definition or {}, self._config.export_options)
            self._possible_keys[survey_id] = keys
        return self._possible_keys[survey_id]
