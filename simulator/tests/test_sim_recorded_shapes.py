"""The simulator's payloads have the same keys as real recorded Qualtrics traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from qualtrics_simulator import ServerHandle, Simulator

from .conftest import HEADERS, RECORDINGS, needs_recordings, run_export

pytestmark = needs_recordings


def recorded(relative: str) -> Any:
    return json.loads((RECORDINGS / relative).read_text())


def first(pattern: str) -> Path:
    return sorted(RECORDINGS.glob(pattern))[0]


def get(server: ServerHandle, path: str) -> dict[str, Any]:
    response = requests.get(server.base_url + path, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_survey_list_elements_match_recording(server: ServerHandle) -> None:
    real = recorded("qualtRics/all_surveys/01_GET_surveys.json")
    ours = get(server, "/surveys")
    assert set(ours) == set(real) == {"result", "meta"}
    assert set(ours["result"]) == set(real["result"])
    assert set(ours["result"]["elements"][0]) == set(real["result"]["elements"][0])
    assert set(ours["meta"]) == set(real["meta"])


def test_legacy_survey_detail_keys_match_recording(server: ServerHandle, survey_id: str) -> None:
    real = recorded("qualtRics/metadata/01_GET_surveys_SV_3gbwq8aJgqPwQDP.json")["result"]
    ours = get(server, f"/surveys/{survey_id}")["result"]
    assert list(ours) == list(real)
    assert set(ours["responseCounts"]) == set(real["responseCounts"])
    real_q = next(iter(real["questions"].values()))
    ours_q = ours["questions"]["QID1"]
    assert set(real_q) <= set(ours_q)
    assert set(next(iter(real_q["choices"].values()))) == set(next(iter(ours_q["choices"].values())))


def test_survey_definition_keys_match_recording(server: ServerHandle, survey_id: str) -> None:
    real = recorded("qualtRics/fetch_description/01_GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    ours = get(server, f"/survey-definitions/{survey_id}")["result"]
    assert set(ours) == set(real)
    real_mc = next(q for q in real["Questions"].values() if q["QuestionType"] == "MC")
    assert set(real_mc) - {"DefaultChoices", "SearchSource", "GradingData"} <= set(ours["Questions"]["QID1"])
    real_block = next(iter(real["Blocks"].values()))
    assert {"Type", "Description", "ID", "BlockElements"} <= set(real_block)
    assert {"Type", "Description", "ID", "BlockElements"} <= set(next(iter(ours["Blocks"].values())))
    assert set(ours["SurveyFlow"]) == set(real["SurveyFlow"])
    assert "DisplayLogic" in ours["Questions"]["QID6"]


def test_question_collection_matches_recording(server: ServerHandle, survey_id: str) -> None:
    real = recorded(
        str(
            first("cambridge-qualtrics_api/question_collection_fetch_success/01_*.json").relative_to(
                RECORDINGS
            )
        )
    )
    ours = get(server, f"/survey-definitions/{survey_id}/questions")
    assert set(ours["result"]) == set(real["result"]) == {"elements"}
    common = {
        "QuestionText",
        "DataExportTag",
        "QuestionType",
        "Selector",
        "Choices",
        "ChoiceOrder",
        "QuestionID",
    }
    assert common <= set(real["result"]["elements"][0])
    assert all(common - {"Choices", "ChoiceOrder"} <= set(q) for q in ours["result"]["elements"])


def test_whoami_keys(server: ServerHandle) -> None:
    ours = get(server, "/whoami")
    expected = {
        "brandId",
        "userId",
        "userName",
        "accountType",
        "firstName",
        "lastName",
        "email",
        "datacenter",
    }
    assert set(ours["result"]) == expected
    assert ours["meta"]["httpStatus"] == "200 - OK"


def test_export_flow_keys_match_recording(server: ServerHandle, survey_id: str) -> None:
    real_start = recorded("qualtRics/fetch_survey/01_POST_surveys_SV_3gbwq8aJgqPwQDP_export-responses.json")
    real_poll = recorded(
        "qualtRics/fetch_survey/02_GET_surveys_SV_3gbwq8aJgqPwQDP_export-responses_ES_3UxfDrHcrySC1Aq.json"
    )
    real_done = recorded(
        "qualtRics/fetch_survey/08_GET_surveys_SV_3gbwq8aJgqPwQDP_export-responses_ES_3UxfDrHcrySC1Aq.json"
    )
    export = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert set(export.start["result"]) == set(real_start["result"])
    assert export.start["result"]["progressId"].startswith("ES_")
    in_progress = [p for p in export.polls if p["result"]["status"] == "inProgress"]
    assert in_progress, "expected at least one inProgress poll"
    assert all(set(p["result"]) == set(real_poll["result"]) for p in in_progress)
    assert set(export.final) == set(real_done["result"])
    assert export.final["percentComplete"] == 100.0


def test_no_auth_error_body_matches_atp_2(server: ServerHandle) -> None:
    real = recorded("errors/issue347_whoami_400_ATP_2.json")
    response = requests.get(server.base_url + "/whoami")
    assert response.status_code == 400
    ours = response.json()
    assert set(ours) == set(real) == {"meta"}
    assert set(ours["meta"]) == set(real["meta"])
    assert ours["meta"]["error"] == real["meta"]["error"]
    assert ours["meta"]["httpStatus"] == real["meta"]["httpStatus"]


def test_records_match_single_response_shape(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    real = json.loads(first("single-responses/asist_*.json").read_text())
    record = run_export(server.base_url, survey_id, {"format": "ndjson", "limit": 5}).records[0]
    assert list(record) == list(real)
    assert set(real["values"]) - {"QID1_TEXT", "QID2", "QID3"} <= set(record["values"])
    for key in ("status", "progress", "duration", "finished"):
        assert isinstance(record["values"][key], int)
    for key in ("locationLatitude", "locationLongitude", "recordedDate"):
        assert isinstance(record["values"][key], str)
    assert record["values"]["recordedDate"][-5] == "." and record["values"]["recordedDate"].endswith("Z")
    assert record["values"]["_recordId"] == record["responseId"]
    assert record["labels"]["status"] == real["labels"]["status"]
