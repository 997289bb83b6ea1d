"""`question_answers`: responses in long format, one row per response x answer field (x chosen choice).

Analysts want to filter and join by question, not parse a JSON blob of `QID17_3` keys. Each row says
which question (`questionId`), which part of it (`subField`: a matrix row, `TEXT`, `NPS_GROUP`, a
choice's "other" text) and, for multi-select answers, which choice; it carries the raw value, its
label and the response's last-modified date. Rows are keyed (`surveyId`, `responseId`, `answerKey`),
so a re-exported (edited) response replaces its rows, and its lost answers get tombstones
(`answer_keys.py`).

When `responses` is synced too, the rows are built in the same pass over the same export file (see
`SourceQualtrics.read`); alone, the stream runs its own exports with the same cursor logic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.export import ExportRun
from source_qualtrics.streams.answer_keys import (
    field_parts,
    possible_answer_keys,
    row_identity,
    tombstones,
    was_edited,
)
from source_qualtrics.streams.export_stream import PlannedExport
from source_qualtrics.streams.responses import Responses

logger = logging.getLogger("airbyte")

# Keys of `values` that describe the response rather than answer a question (Qualtrics' metadata set).
METADATA_KEYS = frozenset(
    {
        "startDate",
        "endDate",
        "status",
        "ipAddress",
        "progress",
        "duration",
        "finished",
        "recordedDate",
        "_recordId",
        "locationLatitude",
        "locationLongitude",
        "recipientLastName",
        "recipientFirstName",
        "recipientEmail",
        "externalReference",
        "externalDataReference",
        "distributionChannel",
        "userLanguage",
        "lastModifiedDate",
        "LastModifiedDate",
    }
)


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._possible_keys: dict[str, frozenset[str]] = {}

    @property
    def name(self) -> str:
        return "question_answers"

    # -- wiring point for tombstones (issue 15): every response's rows go through `rows_of` ----------
    def rows_of(self, response: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The response's answer rows, then a tombstone for each answer key an edit took away."""
        rows = list(answer_rows(response))
        yield from rows
        if was_edited(response):
            current = {row["answerKey"] for row in rows}
            yield from tombstones(response, current, self.possible_keys(response["surveyId"]))

    def possible_keys(self, survey_id: str) -> frozenset[str]:
        """Answer keys the survey's export can hold: one definition GET per survey per sync, and only
        for surveys with an edited response."""
        if survey_id not in self._possible_keys:
            try:
                definition = self._client.get_result(f"survey-definitions/{survey_id}")
            except QualtricsApiError as error:
                if error.status not in (403, 404):
                    raise
                logger.warning(
                    "question_answers: survey %s: no tombstones for edited responses (%s); removed answers "
                    "of edited responses stay in deduplicated destinations. The token's user needs view "
                    "access to the survey definition (OAuth scope read:surveys)",
                    survey_id,
                    error,
                )
                definition = {}
            self._possible_keys[survey_id] = possible_answer_keys(definition, self._config.export_options)
        return self._possible_keys[survey_id]

    # ---------------------------------------------------------------------------------------------------

    def records_of(self, run: ExportRun, planned: PlannedExport) -> Iterator[Mapping[str, Any]]:
        for record in super().records_of(run, planned):
            if isinstance(record, Mapping):
                yield from self.rows_of(record)

    def as_messages(self, record: Mapping[str, Any]) -> Iterator[AirbyteMessage]:
        """Rows of one response as RECORD messages, for the pass `responses` makes on our behalf."""
        emitted_at = int(time.time() * 1000)
        for row in self.rows_of(record):
            yield AirbyteMessage(
                type=Type.RECORD,
                record=AirbyteRecordMessage(stream=self.name, data=row, emitted_at=emitted_at),
            )

    def read(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if self.served_by_responses:
            self.logger.info("question_answers: rows were built in the same pass as responses")
            return
        yield from super().read(*args, **kwargs)


def share_one_pass(responses: Responses, answers: QuestionAnswers) -> None:
    """Let `responses` build the answer rows from its own exports, so nothing is exported twice.

    Both streams then hold the very same per-survey cursors; `responses` checkpoints them for both.
    """
    answers.served_by_responses = True
    answers.share_state_with(responses)
    responses.companion = answers
