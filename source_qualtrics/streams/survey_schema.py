"""A typed table layout for one survey, derived from its definition (never from an export).

Columns are named after Qualtrics' stable keys (`QID4_2`, `QID3_TEXT`, embedded data names), not after
question texts or user-editable export tags, so renaming a question never renames a column. Each
column's description carries the question text for people browsing the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from source_qualtrics.streams.survey_questions import plain_text

MULTI_SELECTORS = frozenset({"MAVR", "MAHR", "MACOL", "MSB"})

INTEGER = {"type": ["null", "integer"]}
NUMBER = {"type": ["null", "number"]}
TEXT = {"type": ["null", "string"]}
TEXT_LIST = {"type": ["null", "array"], "items": {"type": "string"}}
TIMESTAMP = {"type": ["null", "string"], "format": "date-time", "airbyte_type": "timestamp_with_timezone"}

METADATA_COLUMNS: dict[str, dict[str, Any]] = {
    "surveyId": {"type": "string"},
    "responseId": {"type": "string"},
    "recordedDate": TIMESTAMP,
    "lastModifiedDate": TIMESTAMP,
    "startDate": TIMESTAMP,
    "endDate": TIMESTAMP,
    "status": INTEGER,
    "finished": {"type": ["null", "boolean"]},
    "progress": INTEGER,
    "duration": INTEGER,
    "distributionChannel": TEXT,
    "userLanguage": TEXT,
}
OTHER_COLUMN = "_other"
# A value of exactly this type is the column's type already (bool is not int here: `type(x) is int`).
EXACT_TYPES: dict[str, type] = {"integer": int, "number": float, "string": str}


@dataclass(frozen=True)
class Column:
    name: str
    schema: dict[str, Any]
    description: str
    #: for a list column (multi-select), the values its items can take: the options' recodes
    items: tuple[str, ...] = ()

    @property
    def exact_type(self) -> type | None:
        """The Python type of a value that is already the column's type as it stands (None: a list,
        whose items must be looked at): the common case, which `coerce` need not see."""
        return EXACT_TYPES.get(self.schema["type"][1])

    def coerce(self, value: Any) -> Any:
        """Exports are typed already; this only guards against a recode sent as text, or vice versa."""
        kind = self.schema["type"][1]
        if value is None:
            return None
        if kind == "integer":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int):
                return value
            try:
                return int(float(value))
            except (TypeError, ValueError):
                return None
        if kind == "number":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
        if kind == "array":
            return list(map(str, value)) if isinstance(value, list) else [str(value)]
        return value if isinstance(value, str) else str(value)


def survey_columns(definition: Mapping[str, Any]) -> list[Column]:
    """Answer and embedded-data columns of a survey, in the order people see them."""
    columns: dict[str, Column] = {}
    questions = definition.get("Questions")
    blocks = definition.get("Blocks")
    order = _question_order(blocks if isinstance(blocks, Mapping) else {})
    if isinstance(questions, Mapping):
        ordered = sorted(questions, key=lambda qid: order.get(qid, len(order) + _qid_number(qid)))
        for question_id in ordered:
            question = questions[question_id]
            if isinstance(question, Mapping) and question_id in order:
                for column in _question_columns(question_id, question):
                    columns.setdefault(column.name, column)
    for field in _embedded_fields(definition.get("SurveyFlow")):
        columns.setdefault(field, Column(field, TEXT, f"Embedded data field {field}"))
    return list(columns.values())


def json_schema(columns: list[Column]) -> dict[str, Any]:
    properties: dict[str, Any] = dict(METADATA_COLUMNS)
    for column in columns:
        if column.name not in properties:
            properties[column.name] = dict(column.schema, description=column.description)
    properties[OTHER_COLUMN] = {
        "type": ["null", "object"],
        "additionalProperties": True,
        "description": "Exported fields without a column of their own: metadata such as ipAddress, and "
        "fields the survey definition does not declare.",
    }
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": properties}


def _question_columns(question_id: str, question: Mapping[str, Any]) -> Iterator[Column]:
    qtype, selector = question.get("QuestionType"), question.get("Selector")
    text = plain_text(question.get("QuestionText")) or question_id
    raw_choices = question.get("Choices")
    choices: Mapping[str, Any] = raw_choices if isinstance(raw_choices, Mapping) else {}
    if qtype == "MC":
        if selector in MULTI_SELECTORS:
            recodes = _recodes(choices, question.get("RecodeValues"))
            yield Column(question_id, TEXT_LIST, f"{text} (chosen options' recodes)", recodes)
        else:
            yield Column(question_id, INTEGER, f"{text} (chosen option's recode)")
        if selector == "NPS":
            yield Column(
                f"{question_id}_NPS_GROUP", INTEGER, f"{text} (NPS group: 1 detractor, 2 passive, 3 promoter)"
            )
        for choice_id, choice in choices.items():
            if isinstance(choice, Mapping) and choice.get("TextEntry"):
                yield Column(
                    f"{question_id}_{choice_id}_TEXT",
                    TEXT,
                    f"{text} ({plain_text(choice.get('Display'))}: text)",
                )
    elif qtype == "TE":
        yield Column(f"{question_id}_TEXT", TEXT, text)
    elif qtype == "Matrix":
        # Likert rows hold recodes; other matrices (text entry, constant sum...) are kept as text
        sub_selector = question.get("SubSelector")
        kind = TEXT_LIST if sub_selector == "MultipleAnswer" else INTEGER if selector == "Likert" else TEXT
        answers = _recodes(question.get("Answers"), question.get("RecodeValues")) if kind is TEXT_LIST else ()
        for row_id, row in choices.items():
            label = plain_text(row.get("Display")) if isinstance(row, Mapping) else row_id
            yield Column(f"{question_id}_{row_id}", kind, f"{text} - {label}", answers)
    elif qtype == "Slider":
        for row_id, row in choices.items():
            label = plain_text(row.get("Display")) if isinstance(row, Mapping) else row_id
            yield Column(f"{question_id}_{row_id}", NUMBER, f"{text} - {label}")


def _recodes(options: Any, recodes: Any) -> tuple[str, ...]:
    """What an export writes for each option: its recode when one is set, else its id."""
    if not isinstance(options, Mapping):
        return ()
    recode_map = recodes if isinstance(recodes, Mapping) else {}
    return tuple(str(recode_map.get(key, key)) for key in options)


def _question_order(blocks: Mapping[str, Any]) -> dict[str, int]:
    order: dict[str, int] = {}
    for block in blocks.values():
        if not isinstance(block, Mapping) or block.get("Type") == "Trash":
            continue
        for element in block.get("BlockElements") or []:
            if isinstance(element, Mapping) and element.get("Type") == "Question":
                order.setdefault(str(element.get("QuestionID")), len(order))
    return order


def _qid_number(question_id: str) -> int:
    digits = question_id[3:]
    return int(digits) if digits.isdigit() else 0


def _embedded_fields(flow: Any) -> Iterator[str]:
    """Embedded data fields set anywhere in the survey flow (groups nest flows)."""
    if isinstance(flow, Mapping):
        if flow.get("Type") == "EmbeddedData":
            for item in flow.get("EmbeddedData") or []:
                if isinstance(item, Mapping) and isinstance(item.get("Field"), str):
                    yield item["Field"]
        yield from _embedded_fields(flow.get("Flow"))
    elif isinstance(flow, list):
        for item in flow:
            yield from _embedded_fields(item)
