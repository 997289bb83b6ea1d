"""Survey structure streams and survey_versions against requests-mock: one definition read per survey."""

from __future__ import annotations

from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.streams.survey_structure import (
    block_question_rows,
    block_rows,
    option_rows,
    sub_question_rows,
)
from unit_tests.builders import BASE_URL, config, envelope, survey
from unit_tests.helpers import cursor_of, run_read, state_values
from unit_tests.test_directory_streams import FORBIDDEN, data, page, warnings
from unit_tests.test_survey_questions import definition

SV_A, SV_B = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb"
STRUCTURE = ("survey_questions", "survey_blocks", "block_questions", "question_options", "sub_questions")


def matrix_definition() -> dict[str, Any]:
    value = definition()
    value["Questions"]["QID2"].update(
        {
            "ChoiceOrder": ["1"],
            "ChoiceDataExportTags": {"1": "price_row"},
            "AnswerOrder": ["2", "1"],
            "RecodeValues": {"1": "10", "2": "20"},
        }
    )
    value["Blocks"]["BL_1"]["BlockElements"].insert(0, {"Type": "Page Break"})
    value["Blocks"]["BL_1"]["Options"] = {"BlockLocking": "false", "RandomizeQuestions": "false"}
    return value


def test_blocks_and_their_questions_in_order_page_breaks_skipped() -> None:
    blocks = list(block_rows("SV_x", matrix_definition()))
    assert [(b["blockId"], b["blockType"], b["position"], b["questionCount"]) for b in blocks] == [
        ("BL_1", "Default", 1, 1),
        ("BL_2", "Trash", 2, 1),
    ]
    assert blocks[0]["blockLocking"] == "false" and blocks[0]["surveyLastModified"] == "2024-01-01T00:00:00Z"
    members = [
        (r["blockId"], r["questionId"], r["position"])
        for r in block_question_rows("SV_x", matrix_definition())
    ]
    assert members == [("BL_1", "QID1", 1), ("BL_2", "QID2", 1)]


def test_options_carry_recode_text_position_and_the_other_specify_flag() -> None:
    options = [
        (o["questionId"], o["key"], o["recode"], o["text"], o["position"], o["isTextEntry"])
        for o in option_rows("SV_x", matrix_definition())
    ]
    assert options == [
        ("QID1", "2", "9", "Other", 1, True),
        ("QID1", "1", "5", "Very", 2, False),
        # a matrix's options are its scale points, with the matrix's recodes
        ("QID2", "2", "20", "Good", 1, False),
        ("QID2", "1", "10", "Poor", 2, False),
    ]


def test_only_matrix_statements_are_sub_questions() -> None:
    rows = list(sub_question_rows("SV_x", matrix_definition()))
    assert [(r["questionId"], r["key"], r["exportTag"], r["text"], r["position"]) for r in rows] == [
        ("QID2", "1", "price_row", "Price", 1)
    ]


def test_all_structure_streams_share_one_definition_read_per_survey(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A, "2024-05-01T00:00:00Z"), survey(SV_B)]))
    read_a = api.get(f"{BASE_URL}/survey-definitions/{SV_A}", json=envelope(matrix_definition()))
    read_b = api.get(f"{BASE_URL}/survey-definitions/{SV_B}", json=envelope(matrix_definition()))
    output = run_read(source, config(), *STRUCTURE)
    assert read_a.call_count == 1 and read_b.call_count == 1
    assert {r["surveyId"] for r in data(output, "question_options")} == {SV_A, SV_B}
    assert len(data(output, "survey_blocks")) == 4 and len(data(output, "sub_questions")) == 2
    last = {m.state.stream.stream_descriptor.name: m for m in output.state_messages}  # type: ignore[union-attr]
    assert set(last) == set(STRUCTURE)


def test_a_structure_stream_rereads_only_surveys_whose_last_modified_moved(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/surveys",
        json=page([survey(SV_A, "2024-05-01T00:00:00Z"), survey(SV_B, "2024-02-01T00:00:00Z")]),
    )
    read_a = api.get(f"{BASE_URL}/survey-definitions/{SV_A}", json=envelope(matrix_definition()))
    read_b = api.get(f"{BASE_URL}/survey-definitions/{SV_B}", json=envelope(matrix_definition()))
    state = {
        "states": [
            {"partition": {"survey_id": SV_A}, "cursor": {"lastModified": "2024-04-01T00:00:00Z"}},
            {"partition": {"survey_id": SV_B}, "cursor": {"lastModified": "2024-02-01T00:00:00Z"}},
        ]
    }
    output = run_read(source, config(), "question_options", state={"question_options": state})
    assert read_a.call_count == 1 and read_b.call_count == 0
    assert {r["surveyId"] for r in data(output, "question_options")} == {SV_A}
    assert cursor_of(state_values(output)[-1], SV_A) == {"lastModified": "2024-05-01T00:00:00Z"}


def test_a_forbidden_definition_is_one_warning_naming_the_scope_for_all_structure_streams(
    source, api
) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}", status_code=403, json=FORBIDDEN)
    api.get(f"{BASE_URL}/survey-definitions/{SV_B}", json=envelope(matrix_definition()))
    output = run_read(source, config(), *STRUCTURE)
    found = [w for w in warnings(output) if SV_A in w]
    assert len(found) == 1 and "read:surveys" in found[0]
    assert {r["surveyId"] for r in data(output, "survey_blocks")} == {SV_B}


def test_survey_versions_list_each_surveys_versions_and_skip_a_vanished_survey(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    version = {
        "versionID": "9223370445218854431",
        "versionNumber": 2,
        "description": "Fixed typo",
        "surveyID": SV_A,
        "userID": "UR_1",
        "creationDate": "2024-03-01T10:00:00Z",
        "published": True,
        "wasPublished": True,
        "publishEvents": [{"date": "2024-03-01T10:00:05Z", "userID": "UR_1"}],
    }
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}/versions", json=envelope({"elements": [version]}))
    api.get(f"{BASE_URL}/survey-definitions/{SV_B}/versions", status_code=404, json=FORBIDDEN)
    output = run_read(source, config(), "survey_versions", sync_mode=SyncMode.full_refresh)
    (record,) = data(output, "survey_versions")
    assert record["surveyId"] == SV_A and record["versionNumber"] == 2 and record["published"] is True
    assert "surveyID" not in record  # surveyId and surveyID would collide in a lowercasing destination
    assert any(SV_B in w for w in warnings(output))


def test_forbidden_survey_versions_are_one_warning_naming_the_scope(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}/versions", status_code=403, json=FORBIDDEN)
    api.get(f"{BASE_URL}/survey-definitions/{SV_B}/versions", status_code=403, json=FORBIDDEN)
    output = run_read(source, config(), "survey_versions", sync_mode=SyncMode.full_refresh)
    found = warnings(output)
    assert len(found) == 1 and "read:surveys" in found[0] and not output.errors
