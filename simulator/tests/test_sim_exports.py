"""Export flow over real HTTP: options, date windows, filters, formats and validation errors."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator

from .conftest import HEADERS, run_export


def start(server: ServerHandle, survey_id: str, body: object) -> requests.Response:
    return requests.post(
        f"{server.base_url}/surveys/{survey_id}/export-responses", json=body, headers=HEADERS
    )


def test_full_export_matches_ground_truth(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert export.response is not None
    assert export.response.headers["Content-Type"] == "application/zip"
    assert int(export.response.headers["Content-Length"]) == len(export.response.content)
    assert export.member == f"{sim.store.survey(survey_id).name}.ndjson"
    ids = [r["responseId"] for r in export.records]
    assert ids == list(sim.response_ids(survey_id))
    assert len(ids) == 500
    recorded = [r["values"]["recordedDate"] for r in export.records]
    assert recorded == sorted(recorded)


def test_progress_has_no_file_id_until_complete(server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"}, download=False)
    assert export.polls[0]["result"]["status"] == "inProgress"
    for poll in export.polls[:-1]:
        assert "fileId" not in poll["result"]
        assert 0.0 <= poll["result"]["percentComplete"] < 100.0
    assert export.final["status"] == "complete" and export.final["fileId"].endswith("-def")
    assert "continuationToken" not in export.final


def test_ndjson_has_blank_and_empty_object_lines(server: ServerHandle, survey_id: str) -> None:
    lines = run_export(server.base_url, survey_id, {"format": "ndjson"}).raw.split(b"\n")
    assert b"{}" in lines
    assert b"" in lines[:-1], "a blank line inside the file, not only the trailing newline"


def test_blank_lines_can_be_switched_off(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    sim.set_faults(blank_lines=False)
    lines = run_export(server.base_url, survey_id, {"format": "ndjson"}).raw.split(b"\n")
    assert b"{}" not in lines and b"" not in lines[:-1]


def test_json_format_and_uncompressed(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "json", "limit": 7})
    assert export.member.endswith(".json")
    assert len(export.records) == 7
    raw = run_export(server.base_url, survey_id, {"format": "ndjson", "compress": False, "limit": 3})
    assert raw.response is not None and not raw.response.content.startswith(b"PK")
    assert [r["responseId"] for r in raw.records] == list(sim.response_ids(survey_id))[:3]


def test_date_window_is_inclusive_start_exclusive_end(server: ServerHandle, survey_id: str) -> None:
    records = run_export(server.base_url, survey_id, {"format": "ndjson"}).records
    dates = [r["values"]["recordedDate"] for r in records]
    start, end = dates[100], dates[200]
    window = run_export(server.base_url, survey_id, {"format": "ndjson", "startDate": start, "endDate": end})
    got = [r["values"]["recordedDate"] for r in window.records]
    assert got[0] == start
    assert got == [d for d in dates if start <= d < end]
    assert end not in got


def test_second_precision_dates_with_offsets(server: ServerHandle, survey_id: str) -> None:
    body = {"format": "ndjson", "startDate": "2025-06-01T00:00:00Z", "endDate": "2025-06-01T02:00:00+02:00"}
    assert run_export(server.base_url, survey_id, body).records == []
    body = {"format": "ndjson", "startDate": "2025-06-01T00:00:00Z", "endDate": "2025-07-01T00:00:00Z"}
    records = run_export(server.base_url, survey_id, body).records
    assert records and all("2025-06" in r["values"]["recordedDate"][:7] for r in records)


def test_limit(server: ServerHandle, survey_id: str) -> None:
    assert len(run_export(server.base_url, survey_id, {"format": "ndjson", "limit": 42}).records) == 42


def test_in_progress_export_returns_only_unfinished(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    records = run_export(
        server.base_url, survey_id, {"format": "ndjson", "exportResponsesInProgress": True}
    ).records
    assert len(records) == sim.config.in_progress_per_survey
    assert all(r["values"]["finished"] == 0 and r["values"]["progress"] < 100 for r in records)
    assert not {r["responseId"] for r in records} & set(sim.response_ids(survey_id))


def test_question_and_metadata_filters(server: ServerHandle, survey_id: str) -> None:
    body = {
        "format": "ndjson",
        "questionIds": ["QID1", "QID5"],
        "surveyMetadataIds": ["recordedDate", "_recordId"],
    }
    body["embeddedDataIds"] = ["segment"]
    for record in run_export(server.base_url, survey_id, body).records:
        assert set(record["values"]) <= {
            "recordedDate",
            "_recordId",
            "QID1",
            "QID5",
            "QID5_NPS_GROUP",
            "segment",
        }
        assert {"recordedDate", "QID1", "QID5"} <= set(record["values"])
        assert set(record["displayedFields"]) <= {"QID1", "QID5", "QID5_NPS_GROUP"}


def test_display_logic_is_reflected(server: ServerHandle, survey_id: str) -> None:
    records = run_export(server.base_url, survey_id, {"format": "ndjson"}).records
    shown = [r for r in records if "QID6" in r["displayedFields"]]
    assert shown and len(shown) < len(records)
    assert all(r["values"]["QID1"] == 1 and "QID6" in r["values"] for r in shown)
    multi = records[0]["values"]["QID2"]
    assert isinstance(multi, list) and all(isinstance(v, str) for v in multi)
    assert records[0]["values"]["QID5_NPS_GROUP"] in (1, 2, 3)


@pytest.mark.parametrize(
    "body",
    [
        {"Format": "ndjson"},
        {"format": "csv"},
        {"format": "parquet"},
        {},
        {"format": "ndjson", "useLabels": True},
        {"format": "json", "timeZone": "America/Denver"},
        {"format": "ndjson", "breakoutSets": False},
        {"format": "ndjson", "filterId": "F_1", "allowContinuation": True},
        {"format": "ndjson", "allowContinuation": True, "continuationToken": "x"},
        {"format": "ndjson", "questionIds": ["QID99"]},
        {"format": "ndjson", "limit": 0},
        {"format": "ndjson", "startDate": "yesterday"},
        [1, 2],
    ],
)
def test_invalid_bodies_are_400(server: ServerHandle, survey_id: str, body: object) -> None:
    response = start(server, survey_id, body)
    assert response.status_code == 400, response.text
    meta = response.json()["meta"]
    assert meta["httpStatus"] == "400 - Bad Request"
    assert meta["error"]["errorCode"] and meta["error"]["errorMessage"]


def test_unknown_survey_progress_and_file_are_404(server: ServerHandle, survey_id: str) -> None:
    assert start(server, "SV_doesNotExist000", {"format": "ndjson"}).status_code == 404
    base = f"{server.base_url}/surveys/{survey_id}/export-responses"
    assert requests.get(f"{base}/ES_unknown", headers=HEADERS).status_code == 404
    assert requests.get(f"{base}/nope-def/file", headers=HEADERS).status_code == 404


def test_trailing_slash_on_start_is_accepted(server: ServerHandle, survey_id: str) -> None:
    url = f"{server.base_url}/surveys/{survey_id}/export-responses/"
    assert requests.post(url, json={"format": "ndjson"}, headers=HEADERS).status_code == 200


def test_identical_export_reuses_built_file(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    first = run_export(server.base_url, survey_id, {"format": "ndjson"})
    second = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert first.raw == second.raw
    sim.add_responses(survey_id, 1)
    third = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert len(third.records) == len(first.records) + 1


def test_zip_member_is_valid_zip64_stream(server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert export.response is not None
    with zipfile.ZipFile(io.BytesIO(export.response.content)) as archive:
        assert archive.testzip() is None
