from __future__ import annotations

import json

from source_qualtrics.streams.survey_questions import plain_text, question_records
from unit_tests.builders import BASE_URL, config, envelope, survey
from unit_tests.helpers import run_read, state_values
from unit_tests.recordings import recording

RECORDED_DEFINITION = "qualtRics/fetch_description/01_GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json"


def definition(last_modified: str = "2024-01-01T00:00:00Z") -> dict:  # type: ignore[type-arg]
    return {
        "SurveyID": "SV_x",
        "LastModified": last_modified,
        "Questions": {
            "QID1": {
                "QuestionID": "QID1",
                "QuestionText": "How <b>satisfied</b> are you?&nbsp;",
                "DataExportTag": "Q1",
                "QuestionType": "MC",
                "Selector": "SAVR",
                "Choices": {"1": {"Display": "Very"}, "2": {"Display": "Other", "TextEntry": "true"}},
                "ChoiceOrder": ["2", "1"],
                "RecodeValues": {"1": "5", "2": "9"},
            },
            "QID2": {
                "QuestionID": "QID2",
                "QuestionText": "Rate",
                "QuestionType": "Matrix",
                "Selector": "Likert",
                "Choices": {"1": {"Display": "Price"}},
                "Answers": {"1": {"Display": "Poor"}, "2": {"Display": "Good"}},
                "DisplayLogic": {},
            },
        },
        "Blocks": {
            "BL_1": {
                "Type": "Default",
                "Description": "Main",
                "BlockElements": [{"Type": "Question", "QuestionID": "QID1"}],
            },
            "BL_2": {
                "Type": "Trash",
                "Description": "Trash",
                "BlockElements": [{"Type": "Question", "QuestionID": "QID2"}],
            },
        },
    }


def test_questions_carry_choices_with_recodes_labels_and_their_block() -> None:
    first, second = question_records("SV_x", definition())
    assert first["questionText"] == "How satisfied are you?" and first["exportTag"] == "Q1"
    assert [(c["id"], c["recode"], c["label"], c["textEntry"]) for c in first["choices"]] == [
        ("2", "9", "Other", True),
        ("1", "5", "Very", False),
    ]
    assert first["blockId"] == "BL_1" and first["inTrash"] is False and first["position"] == 1
    assert [a["label"] for a in second["answers"]] == ["Poor", "Good"] and second["choices"][0][
        "label"
    ] == "Price"
    assert second["inTrash"] is True and second["hasDisplayLogic"] is True


def test_the_recorded_definition_flattens_into_one_record_per_question() -> None:
    recorded = json.loads(recording(RECORDED_DEFINITION).read_text())["result"]
    records = list(question_records(recorded["SurveyID"], recorded))
    assert {r["questionId"] for r in records} == set(recorded["Questions"])
    assert all(r["questionText"] is None or "<" not in r["questionText"] for r in records)
    assert any(r["inTrash"] for r in records)


def test_plain_text_strips_markup_and_entities() -> None:
    assert plain_text("<em>Extremely</em>&nbsp;dissatisfied\n") == "Extremely dissatisfied"


def test_only_surveys_whose_last_modified_moved_are_read_again(source, api) -> None:  # type: ignore[no-untyped-def]
    sv_a, sv_b = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb"
    api.get(
        f"{BASE_URL}/surveys",
        json=envelope(
            {
                "elements": [survey(sv_a, "2024-05-01T00:00:00Z"), survey(sv_b, "2024-02-01T00:00:00Z")],
                "nextPage": None,
            }
        ),
    )
    read_a = api.get(f"{BASE_URL}/survey-definitions/{sv_a}", json=envelope(definition()))
    read_b = api.get(f"{BASE_URL}/survey-definitions/{sv_b}", json=envelope(definition()))
    state = {
        "states": [
            {"partition": {"survey_id": sv_a}, "cursor": {"lastModified": "2024-04-01T00:00:00Z"}},
            {"partition": {"survey_id": sv_b}, "cursor": {"lastModified": "2024-02-01T00:00:00Z"}},
        ]
    }
    output = run_read(source, config(), "survey_questions", state={"survey_questions": state})
    assert read_a.call_count == 1 and read_b.call_count == 0
    assert {m.record.data["surveyId"] for m in output.records} == {sv_a}
    cursors = {
        e["partition"]["survey_id"]: e["cursor"]["lastModified"] for e in state_values(output)[-1]["states"]
    }
    assert cursors == {sv_a: "2024-05-01T00:00:00Z", sv_b: "2024-02-01T00:00:00Z"}
