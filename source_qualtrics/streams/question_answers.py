"""`question_answers`: responses in long format, one row per response x answer field (x chosen choice).

Analysts want to filter and join by question, not parse a JSON blob of `QID17_3` keys. Each row says
which question (`questionId`), which part of it (`subField`: a matrix row, `TEXT`, `NPS_GROUP`, a
choice's "other" text) and, for multi-select answers, which choice; it carries the raw value, its
label and the response's last-modified date. Rows are keyed (`surveyId`, `responseId`, `answerKey`),
so a re-exported (edited) response replaces its rows.

It has its own per-survey cursors, with the same logic as `responses`. When both streams are synced
at the same cursors, they ask for the very same exports, and the second stream reads the files the
first one downloaded in this sync (export_cache.py) instead of exporting again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from source_qualtrics.export import ExportTask
from source_qualtrics.streams.responses import METADATA_KEYS, Responses

_QUESTION_FIELD = re.compile(r"^(?:(?P<loop>\d+)_)?(?P<question>QID\d+)(?:_(?P<rest>.+))?$")


def answer_rows(response: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Long-format rows of one shaped `responses` record (see `to_record`)."""
    values = response.get("values") or {}
    labels = response.get("labels") or {}
    base = {
        "surveyId": response["surveyId"],
        "responseId": response["responseId"],
        "responseLastModified": response.get("lastModifiedDate"),
        "recordedDate": response.get("recordedDate"),
    }
    for field, value in values.items():
        if field in METADATA_KEYS or value is None:
            continue
        match = _QUESTION_FIELD.match(field)
        if match:
            question_id, sub_field, loop = match.group("question"), match.group("rest"), match.group("loop")
            kind = "answer"
        else:
            question_id, sub_field, loop, kind = None, None, None, "embeddedData"
        label = labels.get(field) if isinstance(labels, Mapping) else None
        common = dict(base, field=field, questionId=question_id, subField=sub_field, loop=loop, kind=kind)
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

    @property
    def name(self) -> str:
        return "question_answers"

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for response in super().records_of(task, lines):
            yield from answer_rows(response)

    def expected_rows(self) -> int | None:
        return None  # rows per response vary with the answers given: no honest estimate up front
