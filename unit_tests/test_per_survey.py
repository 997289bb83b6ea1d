from __future__ import annotations

from source_qualtrics.streams.survey_schema import survey_columns
from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of
from unit_tests.helpers import run_read
from unit_tests.test_survey_questions import definition

SV_A = "SV_aaaaaaaaaaaaaaa"


def full_definition() -> dict:  # type: ignore[type-arg]
    value = definition()
    value["Questions"]["QID3"] = {"QuestionType": "TE", "Selector": "SL", "QuestionText": "Why?"}
    value["Questions"]["QID4"] = {
        "QuestionType": "MC",
        "Selector": "MAVR",
        "QuestionText": "Which?",
        "Choices": {"1": {"Display": "A"}, "2": {"Display": "B"}},
    }
    value["Questions"]["QID5"] = {"QuestionType": "MC", "Selector": "NPS", "QuestionText": "Recommend?"}
    value["Questions"]["QID7"] = {
        "QuestionType": "Matrix",
        "Selector": "Likert",
        "SubSelector": "SingleAnswer",
        "QuestionText": "Rate",
        "Choices": {"1": {"Display": "Price"}, "2": {"Display": "Speed"}},
    }
    value["Blocks"]["BL_1"]["BlockElements"] += [
        {"Type": "Question", "QuestionID": qid} for qid in ("QID3", "QID4", "QID5", "QID7")
    ]
    value["SurveyFlow"] = {
        "Type": "Root",
        "Flow": [
            {"Type": "Group", "Flow": [{"Type": "EmbeddedData", "EmbeddedData": [{"Field": "segment"}]}]}
        ],
    }
    return value


def test_columns_follow_question_types_and_skip_trashed_questions() -> None:
    columns = {c.name: c.schema["type"][1] for c in survey_columns(full_definition())}
    assert columns == {
        "QID1": "integer",
        "QID1_2_TEXT": "string",
        "QID3_TEXT": "string",
        "QID4": "array",
        "QID5": "integer",
        "QID5_NPS_GROUP": "integer",
        "QID7_1": "integer",
        "QID7_2": "integer",
        "segment": "string",
    }


def test_a_per_survey_stream_is_discovered_without_an_export_and_reads_typed_rows(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}", json=envelope(full_definition()))
    raw = response("R_a00000000000001", QID1="2", QID4=["1"], QID7_1=3, segment="smb", QID99=5)
    export = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([raw])}))
    output = run_read(source, config(per_survey_streams=True), f"responses_{SV_A}")
    (record,) = [m.record.data for m in output.records]
    assert record["QID1"] == 2 and record["QID4"] == ["1"] and record["QID7_1"] == 3
    assert record["segment"] == "smb" and record.get("QID3_TEXT") is None
    assert record["_other"] == {"QID2": ["1", "3"], "QID99": 5, "ipAddress": "165.225.48.92"}
    assert record["responseId"] == "R_a00000000000001" and export.start.call_count == 1
