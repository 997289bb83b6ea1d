"""Survey structure as rows: `survey_blocks`, `block_questions`, `question_options`, `sub_questions`.

Fivetran's Qualtrics schema keeps blocks, block membership, answer options and matrix rows as tables
of their own, and dbt models built on it join answers to option texts. These streams cut the same
survey definition `survey_questions` reads (shared through `SurveyDefinitions`, no extra call), and
like it re-read a survey only when its `lastModified` moved.

Which part of a question is an option and which a sub-question follows the response export: a
matrix's statements (`Choices`) are exported as columns of their own (`QID4_1`) and are its
sub-questions, while its scale points (`Answers`) are the values and so its options; every other
question's `Choices` are its options. A matrix's `RecodeValues` belong to its scale points, as in
Qualtrics' recode editor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from source_qualtrics.streams.survey_definitions import DefinitionStream, SurveyDefinitions
from source_qualtrics.streams.survey_questions import options_in_order

MATRIX = "Matrix"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _blocks(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for block_id, block in _mapping(definition.get("Blocks")).items():
        if isinstance(block, Mapping):
            yield str(block.get("ID") or block_id), block


def _question_ids(block: Mapping[str, Any]) -> list[str]:
    elements = block.get("BlockElements")
    return [
        str(element["QuestionID"])
        for element in (elements if isinstance(elements, list) else [])
        if isinstance(element, Mapping) and element.get("Type") == "Question" and element.get("QuestionID")
    ]


def block_rows(survey_id: str, definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    modified = definition.get("LastModified")
    for position, (block_id, block) in enumerate(_blocks(definition), start=1):
        options = _mapping(block.get("Options"))
        yield {
            "surveyId": survey_id,
            "blockId": block_id,
            "blockType": block.get("Type"),
            "description": block.get("Description"),
            "position": position,
            "questionCount": len(_question_ids(block)),
            "blockLocking": options.get("BlockLocking"),
            "randomizeQuestions": options.get("RandomizeQuestions"),
            "surveyLastModified": modified,
        }


def block_question_rows(survey_id: str, definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    modified = definition.get("LastModified")
    for block_id, block in _blocks(definition):
        for position, question_id in enumerate(_question_ids(block), start=1):
            yield {
                "surveyId": survey_id,
                "blockId": block_id,
                "questionId": question_id,
                "position": position,
                "surveyLastModified": modified,
            }


def _questions(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for question_id, question in _mapping(definition.get("Questions")).items():
        if isinstance(question, Mapping):
            yield str(question_id), question


def option_rows(survey_id: str, definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each question's answer options in display order, with the recode the export carries."""
    modified = definition.get("LastModified")
    for question_id, question in _questions(definition):
        if question.get("QuestionType") == MATRIX:
            source, order = "Answers", question.get("AnswerOrder")
        else:
            source, order = "Choices", question.get("ChoiceOrder")
        options = options_in_order(question.get(source), order, question.get("RecodeValues"))
        for position, option in enumerate(options, start=1):
            yield {
                "surveyId": survey_id,
                "questionId": question_id,
                "key": option["id"],
                "recode": option["recode"],
                "text": option["label"],
                "textHtml": option["labelHtml"],
                "position": position,
                "isTextEntry": option["textEntry"],
                "optionSource": source,
                "surveyLastModified": modified,
            }


def sub_question_rows(survey_id: str, definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A matrix's statements: each answered as a column of its own (`QID4_<key>`)."""
    modified = definition.get("LastModified")
    for question_id, question in _questions(definition):
        if question.get("QuestionType") != MATRIX:
            continue
        export_tags = _mapping(question.get("ChoiceDataExportTags"))
        rows = options_in_order(question.get("Choices"), question.get("ChoiceOrder"), None)
        for position, row in enumerate(rows, start=1):
            tag = export_tags.get(row["id"])
            yield {
                "surveyId": survey_id,
                "questionId": question_id,
                "key": row["id"],
                "exportTag": tag if isinstance(tag, str) else None,
                "text": row["label"],
                "textHtml": row["labelHtml"],
                "position": position,
                "isTextEntry": row["textEntry"],
                "surveyLastModified": modified,
            }


class SurveyBlocks(DefinitionStream):
    primary_key = ["surveyId", "blockId"]

    @property
    def name(self) -> str:
        return "survey_blocks"

    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return block_rows(survey_id, definition)


class BlockQuestions(DefinitionStream):
    primary_key = ["surveyId", "blockId", "questionId"]

    @property
    def name(self) -> str:
        return "block_questions"

    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return block_question_rows(survey_id, definition)


class QuestionOptions(DefinitionStream):
    primary_key = ["surveyId", "questionId", "key"]

    @property
    def name(self) -> str:
        return "question_options"

    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return option_rows(survey_id, definition)


class SubQuestions(DefinitionStream):
    primary_key = ["surveyId", "questionId", "key"]

    @property
    def name(self) -> str:
        return "sub_questions"

    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return sub_question_rows(survey_id, definition)


def structure_streams(definitions: SurveyDefinitions) -> list[DefinitionStream]:
    return [
        SurveyBlocks(definitions),
        BlockQuestions(definitions),
        QuestionOptions(definitions),
        SubQuestions(definitions),
    ]
