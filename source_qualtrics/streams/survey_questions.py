"""`survey_questions`: one record per question per survey, from the survey definition.

Analysts need to know which question and which choice a `QID17_3` answer is. The definition is
re-read only for surveys whose `lastModified` moved since the last sync (a per-survey cursor), so a
brand with hundreds of stable surveys costs one survey-list walk per sync.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from source_qualtrics.streams.survey_definitions import DefinitionStream

_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def plain_text(value: Any) -> str | None:
    """Question and choice texts are HTML in Qualtrics; analysts want the words."""
    if not isinstance(value, str):
        return None
    return _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()


def options_in_order(container: Any, order: Any, recodes: Any) -> list[dict[str, Any]]:
    """Choices (or matrix answers) in display order, with the recode value exports use."""
    if not isinstance(container, Mapping):
        return []
    recode_map = recodes if isinstance(recodes, Mapping) else {}
    keys = [str(key) for key in order] if isinstance(order, list) else list(container)
    keys += [key for key in container if key not in keys]
    options = []
    for key in keys:
        option = container.get(key)
        if not isinstance(option, Mapping):
            continue
        display = option.get("Display")
        options.append(
            {
                "id": key,
                "recode": str(recode_map.get(key, key)),
                "label": plain_text(display),
                "labelHtml": display if isinstance(display, str) else None,
                "textEntry": bool(option.get("TextEntry")) if option.get("TextEntry") is not None else False,
            }
        )
    return options


def question_records(survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Flatten a survey definition into question records, in block order."""
    raw_questions, raw_blocks = definition.get("Questions"), definition.get("Blocks")
    questions: Mapping[str, Any] = raw_questions if isinstance(raw_questions, Mapping) else {}
    blocks: Mapping[str, Any] = raw_blocks if isinstance(raw_blocks, Mapping) else {}
    placement: dict[str, tuple[str | None, str | None, bool, int | None]] = {}
    position = 0
    for key, block in blocks.items():
        if not isinstance(block, Mapping):
            continue
        trashed = block.get("Type") == "Trash"
        for element in block.get("BlockElements") or []:
            if isinstance(element, Mapping) and element.get("Type") == "Question":
                position += 1
                placement[str(element.get("QuestionID"))] = (key, block.get("Description"), trashed, position)
    last_modified = definition.get("LastModified")
    for question_id, question in questions.items():
        if not isinstance(question, Mapping):
            continue
        block_id, block_description, in_trash, order = placement.get(question_id, (None, None, False, None))
        yield {
            "surveyId": survey_id,
            "questionId": question_id,
            "exportTag": question.get("DataExportTag"),
            "questionText": plain_text(question.get("QuestionText")),
            "questionTextHtml": question.get("QuestionText"),
            "description": question.get("QuestionDescription"),
            "questionType": question.get("QuestionType"),
            "selector": question.get("Selector"),
            "subSelector": question.get("SubSelector"),
            "choices": options_in_order(
                question.get("Choices"), question.get("ChoiceOrder"), question.get("RecodeValues")
            ),
            "answers": options_in_order(question.get("Answers"), question.get("AnswerOrder"), None),
            "hasDisplayLogic": "DisplayLogic" in question,
            "blockId": block_id,
            "blockDescription": block_description,
            "inTrash": in_trash,
            "position": order,
            "surveyLastModified": last_modified,
        }


class SurveyQuestions(DefinitionStream):
    primary_key = ["surveyId", "questionId"]

    @property
    def name(self) -> str:
        return "survey_questions"

    def rows(self, survey_id: str, definition: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return question_records(survey_id, definition)
