"""Tombstones: an edited response's lost answer keys leave deduplicated destinations."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from qualtrics_simulator.data import (
    EPOCH_MS,
    KeyFilter,
    RecordFactory,
    SurveyInfo,
    extra_questions_for,
    survey_definition,
)

from source_qualtrics.config import ExportOptions
from source_qualtrics.dates import parse_instant
from source_qualtrics.streams.answer_keys import (
    DELETED_AT,
    EDIT_GRACE,
    field_parts,
    possible_answer_keys,
    tombstones,
    was_edited,
)
from source_qualtrics.streams.question_answers import answer_rows
from source_qualtrics.streams.responses import METADATA_KEYS, to_record
from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of
from unit_tests.helpers import run_read

SV_A = "SV_aaaaaaaaaaaaaaa"
RECORDED, EDITED = "2024-03-25T17:21:25.942Z", "2024-04-02T09:00:00.000Z"
SIMULATED_KEYS = {
    "QID1",
    *(f"QID2#{choice}" for choice in "12345"),
    "QID3_TEXT",
    *(f"QID4_{row}" for row in "1234"),
    "QID5",
    "QID5_NPS_GROUP",
    "QID6",
    "segment",
    "customer_id",
}


def simulated_definition() -> dict[str, Any]:
    info = SurveyInfo(seed=7, index=0, id=SV_A, name="S", owner_id="UR_x", creation_ms=0, modified_ms=0)
    return survey_definition(info)


def edited(last_modified: str = EDITED, **values: Any) -> dict[str, Any]:
    raw = response("R_a00000000000001", recorded=RECORDED, lastModifiedDate=last_modified, **values)
    return to_record(SV_A, raw)


def test_the_definition_says_which_answer_keys_an_export_can_hold() -> None:
    assert possible_answer_keys(simulated_definition(), ExportOptions()) == SIMULATED_KEYS


def test_export_options_narrow_the_possible_keys_to_what_was_exported() -> None:
    options = ExportOptions(question_ids=("QID2", "QID6"), embedded_data_ids=("segment",))
    keys = possible_answer_keys(simulated_definition(), options)
    assert keys == {*(f"QID2#{choice}" for choice in "12345"), "QID6", "segment"}


def test_recodes_and_multiple_answer_matrices_name_the_keys() -> None:
    definition = {
        "Questions": {
            "QID1": {
                "QuestionType": "MC",
                "Selector": "MAVR",
                "Choices": {"1": {"Display": "a"}, "2": {"Display": "b", "TextEntry": "true"}},
                "RecodeValues": {"1": "10", "2": "20"},
            },
            "QID2": {
                "QuestionType": "Matrix",
                "Selector": "Likert",
                "SubSelector": "MultipleAnswer",
                "Choices": {"1": {"Display": "row"}},
                "Answers": {"1": {"Display": "x"}, "2": {"Display": "y"}},
            },
        },
        "Blocks": {
            "BL_1": {"BlockElements": [{"Type": "Question", "QuestionID": q} for q in ("QID1", "QID2")]}
        },
    }
    assert possible_answer_keys(definition, ExportOptions()) == {
        "QID1#10",
        "QID1#20",
        "QID1_2_TEXT",
        "QID2_1#1",
        "QID2_1#2",
    }


def test_an_edit_is_a_last_modification_more_than_a_second_after_recording() -> None:
    assert was_edited(edited(EDITED))
    assert not was_edited(edited(RECORDED)), "a response never edited has lastModifiedDate = recordedDate"
    assert not was_edited(edited("2024-03-25T17:21:26.500Z")), "within the grace: the same submission"
    assert not was_edited(to_record(SV_A, response("R_a00000000000001")))  # no lastModifiedDate at all


@pytest.mark.parametrize(
    "last_modified",
    [
        "2024-03-25T17:21:26.942Z",  # exactly the grace: not an edit
        "2024-03-25T17:21:26.943Z",
        "2024-03-25T17:21:27Z",
        "2024-03-25T19:21:27.000+02:00",  # the same instant as 17:21:27Z: an edit
        "2024-03-25T19:21:26.000+02:00",  # 0.058 s after recording, with an offset: not an edit
        "2024-03-25T17:21:30",  # naive: UTC
        "2024-03-25",
        "2024-03-24T17:21:30.000Z",  # before recording
        "not a date",
        "",
    ],
)
def test_an_edit_is_judged_as_pendulum_instants_would(last_modified: str) -> None:
    """The check runs once per response without building pendulum instants: the same verdicts."""
    recorded, modified = parse_instant(RECORDED), parse_instant(last_modified)
    expected = recorded is not None and modified is not None and modified - recorded > EDIT_GRACE
    assert was_edited(edited(last_modified)) is expected


def test_answer_rows_of_wide_responses_are_the_same_with_field_parts_cached() -> None:
    """150-value responses: rows with a cold and a warm cache are equal, and a caller changing a row
    cannot change another response's rows."""
    info = SurveyInfo(SV_A, 0, "Wide", "UR_1", 0, 0, seed=3, extra_questions=extra_questions_for(150))
    factory = RecordFactory(info, KeyFilter(), with_last_modified=True)
    records = [
        to_record(SV_A, orjson.loads(factory.record(f"R_{slot:015d}", slot, EPOCH_MS - 1000)))
        for slot in range(50)
    ]
    field_parts.cache_clear()
    cold = [list(answer_rows(record)) for record in records]
    for rows in cold:
        for row in rows:
            row["questionId"] = "changed"
    assert field_parts("QID7_1")["questionId"] == "QID7"
    warm = [list(answer_rows(record)) for record in records]
    assert field_parts.cache_info().hits > 0
    assert sum(len(rows) for rows in warm) > 50 * 100
    for rows, record in zip(warm, records, strict=True):
        answers = [(key, value) for key, value in record["values"].items() if key not in METADATA_KEYS]
        assert [row["field"] for row in rows] == [
            key for key, value in answers for _ in (value if isinstance(value, list) else [value])
        ]
        for row in rows:
            match = re.match(r"^(?:(\d+)_)?(QID\d+)(?:_(.+))?$", row["field"])
            parts = match.groups() if match else (None, None, None)
            assert (row["loop"], row["questionId"], row["subField"]) == parts
            assert row["kind"] == ("answer" if match else "embeddedData")


def test_an_edited_response_tombstones_exactly_the_keys_it_no_longer_has() -> None:
    record = edited(QID2=["2", "4", "5"], QID3_TEXT="faster", segment="smb")
    current = {row["answerKey"] for row in answer_rows(record)}
    rows = {row["answerKey"]: row for row in tombstones(record, current, SIMULATED_KEYS)}
    assert set(rows) == SIMULATED_KEYS - current
    assert {"QID2#1", "QID2#3", "QID6", "QID4_1", "customer_id"} <= set(rows)
    assert not current & set(rows)
    gone = rows["QID2#1"]
    assert gone[DELETED_AT] == EDITED and gone["responseLastModified"] == EDITED
    assert (gone["questionId"], gone["field"], gone["choice"], gone["value"]) == ("QID2", "QID2", "1", None)
    assert rows["QID4_1"]["subField"] == "1" and rows["customer_id"]["kind"] == "embeddedData"
    assert all(row["responseId"] == "R_a00000000000001" and row["surveyId"] == SV_A for row in rows.values())


def test_an_unedited_response_gets_no_tombstones() -> None:
    record = edited(RECORDED)
    assert list(tombstones(record, {"QID1"}, SIMULATED_KEYS)) == []


def test_a_read_fetches_the_definition_once_per_survey_and_only_for_edits(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    definition = api.get(f"{BASE_URL}/survey-definitions/{SV_A}", json=envelope(simulated_definition()))
    records = [
        response("R_a00000000000001", recorded=RECORDED, lastModifiedDate=EDITED, QID2=["2"]),
        response("R_a00000000000002", recorded=RECORDED, lastModifiedDate=EDITED, QID2=["5"]),
        response("R_a00000000000003", recorded=RECORDED, lastModifiedDate=RECORDED),
    ]
    FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson(records)}), token="t")

    output = run_read(source, config(), "responses", "question_answers")

    assert definition.call_count == 1
    answers = [m.record.data for m in output.records if m.record.stream == "question_answers"]
    deleted = {(row["responseId"], row["answerKey"]) for row in answers if row.get(DELETED_AT)}
    assert ("R_a00000000000001", "QID2#1") in deleted and ("R_a00000000000001", "QID2#2") not in deleted
    assert ("R_a00000000000002", "QID2#2") in deleted and ("R_a00000000000002", "QID2#5") not in deleted
    assert not {key for rid, key in deleted if rid == "R_a00000000000003"}, "unedited: no tombstones"


def test_no_tombstones_when_the_definition_is_forbidden(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}", status_code=403, json={"meta": {"httpStatus": "403"}})
    records = [response("R_a00000000000001", recorded=RECORDED, lastModifiedDate=EDITED, QID2=["2"])]
    FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson(records)}), token="t")

    output = run_read(source, config(), "question_answers")

    answers = [m.record.data for m in output.records]
    assert {row["answerKey"] for row in answers} == {"QID1", "QID2#2"}
    assert not any(row.get(DELETED_AT) for row in answers)
