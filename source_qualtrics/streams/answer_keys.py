"""Which answer keys a response has or can have, and tombstones for the keys an edit took away.

`question_answers` rows are keyed (surveyId, responseId, answerKey). When a response is edited in
Qualtrics, its re-export replaces the rows it still has; a key it no longer has (an unticked option
`QID2#3`, a follow-up question now hidden by display logic, a cleared text) would otherwise stay in an
Append+Deduped destination for ever. Airbyte's convention for "this row is gone" is a record with
`_ab_cdc_deleted_at` set: destinations in dedup mode delete the row with that primary key.

The connector keeps no memory of a response's earlier keys, so for an *edited* response (last modified
more than a second after it was recorded) it tombstones every key the survey definition says an
export can hold and the response does not have. Unedited responses, which are nearly all of a first
sync, get none. Everything here is pure: the caller fetches the definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Set
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from source_qualtrics.config import ExportOptions
from source_qualtrics.dates import Duration, seconds_apart
from source_qualtrics.streams.survey_schema import TEXT_LIST, survey_columns

DELETED_AT = "_ab_cdc_deleted_at"
#: an edit is a human's later change; a smaller gap is two clocks stamping the same submission
EDIT_GRACE = Duration(seconds=1)

_QUESTION_FIELD = re.compile(r"^(?:(?P<loop>\d+)_)?(?P<question>QID\d+)(?:_(?P<rest>.+))?$")


@lru_cache(maxsize=1 << 14)
def field_parts(field: str) -> Mapping[str, Any]:
    """What a `values` key is: the question, the part of it and the loop, or an embedded data field.

    Asked for every answer of every response, and the same few hundred keys recur response after
    response: each is worked out once (read-only, so a cached answer cannot be changed by a caller).
    """
    match = _QUESTION_FIELD.match(field)
    if match:
        return MappingProxyType(
            {
                "field": field,
                "questionId": match.group("question"),
                "subField": match.group("rest"),
                "loop": match.group("loop"),
                "kind": "answer",
            }
        )
    return MappingProxyType(
        {"field": field, "questionId": None, "subField": None, "loop": None, "kind": "embeddedData"}
    )


def row_identity(response: Mapping[str, Any]) -> dict[str, Any]:
    """The columns every row of one response shares."""
    return {
        "surveyId": response["surveyId"],
        "responseId": response["responseId"],
        "responseLastModified": response.get("lastModifiedDate"),
        "recordedDate": response.get("recordedDate"),
    }


def possible_answer_keys(definition: Mapping[str, Any], options: ExportOptions) -> frozenset[str]:
    """Every answer key an export of this survey can hold, as `question_answers` spells them.

    One key per answer column of the survey's typed layout (`survey_columns`): `QIDn` for a single
    choice, `QIDn#<recode>` per option of a multi-select, `QIDn_TEXT`, `QIDn_<choice>_TEXT` for an
    "other, specify" text, `QIDn_<row>` per matrix or slider row (`#<answer recode>` for a
    multiple-answer matrix), `QIDn_NPS_GROUP`, and each embedded data field the survey flow sets.
    Questions or fields the export options leave out are not included: they were not re-exported.
    """
    keys: set[str] = set()
    for column in survey_columns(definition):
        if not _exported(field_parts(column.name), options):
            continue
        if column.schema is TEXT_LIST:
            keys.update(f"{column.name}#{item}" for item in column.items)
        else:
            keys.add(column.name)
    return frozenset(keys)


def _exported(parts: Mapping[str, Any], options: ExportOptions) -> bool:
    """Whether the export options keep this field (`question_ids`, `embedded_data_ids`)."""
    if parts["kind"] == "answer":
        return options.question_ids is None or parts["questionId"] in options.question_ids
    return options.embedded_data_ids is None or parts["field"] in options.embedded_data_ids


def was_edited(response: Mapping[str, Any]) -> bool:
    """Whether Qualtrics last modified the response after recording it (an edit, not a submission)."""
    gap = seconds_apart(response.get("recordedDate"), response.get("lastModifiedDate"))
    return gap is not None and gap > EDIT_GRACE.total_seconds()


def tombstones(
    response: Mapping[str, Any], current_keys: Set[str], possible_keys: Set[str]
) -> Iterator[dict[str, Any]]:
    """Deletion rows for the keys an edited response can have but no longer has (none if unedited)."""
    if not was_edited(response):
        return
    identity = row_identity(response)
    deleted_at = response.get("lastModifiedDate")
    for key in sorted(possible_keys - current_keys):
        field, _, choice = key.partition("#")
        yield dict(
            identity,
            **field_parts(field),
            answerKey=key,
            choice=choice or None,
            value=None,
            valueNumber=None,
            label=None,
            **{DELETED_AT: deleted_at},
        )
