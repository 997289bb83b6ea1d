"""Auth, envelope, paging, rate limits, OAuth and injected faults at the HTTP layer."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from .conftest import HEADERS, run_export


def test_auth_errors(server: ServerHandle) -> None:
    missing = requests.get(server.base_url + "/surveys")
    assert missing.status_code == 400 and missing.json()["meta"]["error"]["errorCode"] == "ATP_2"
    wrong = requests.get(server.base_url + "/surveys", headers={"X-API-TOKEN": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["meta"]["error"] == {
        "errorCode": "DCD_7",
        "errorMessage": "Unrecognized X-API-TOKEN.",
    }
    assert wrong.json()["meta"]["httpStatus"] == "401 - Unauthorized"
    bearer = requests.get(server.base_url + "/whoami", headers={"Authorization": "Bearer sim-token"})
    assert bearer.status_code == 200


def test_unknown_path_and_survey_are_404(server: ServerHandle) -> None:
    unknown = requests.get(server.base_url + "/nothing/here", headers=HEADERS)
    assert unknown.status_code == 404 and unknown.json()["meta"]["httpStatus"] == "404 - Not Found"
    survey = requests.get(server.base_url + "/surveys/SV_000000000000000", headers=HEADERS)
    assert survey.status_code == 404 and survey.json()["meta"]["error"]["errorCode"] == "GSI_2"


def test_oauth_client_credentials(server: ServerHandle) -> None:
    token_url = server.root_url + "/oauth2/token"
    bad = requests.post(token_url, data={"grant_type": "client_credentials"}, auth=("sim-client", "wrong"))
    assert bad.status_code == 401
    good = requests.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": "read:surveys"},
        auth=("sim-client", "sim-secret"),
    )
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "read:surveys"
    ok = requests.get(
        server.base_url + "/whoami", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert ok.status_code == 200
    forged = requests.get(server.base_url + "/whoami", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401


def test_survey_paging_uses_full_url_next_page() -> None:
    sim = Simulator(SimulatorConfig(seed=3, surveys=7, responses_per_survey=1, page_size=3))
    with sim.serve() as server:
        url: str | None = server.base_url + "/surveys"
        seen: list[str] = []
        pages = 0
        while url:
            body = requests.get(url, headers=HEADERS).json()["result"]
            seen += [e["id"] for e in body["elements"]]
            url = body["nextPage"]
            pages += 1
            if url:
                assert url.startswith(server.base_url + "/surveys?offset=")
        assert pages == 3
        assert seen == sim.survey_ids()
        assert all(s.startswith("SV_") and len(s) == 18 for s in seen)


def test_rate_limit_gives_429_with_retry_after(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    sim.set_faults(rate_limits=True, rate_limit_rpm={"export_start": 2})
    url = f"{server.base_url}/surveys/{survey_id}/export-responses"
    statuses = [requests.post(url, json={"format": "ndjson"}, headers=HEADERS) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["meta"]["httpStatus"] == "429 - Too Many Requests"
    assert limited.json()["meta"]["error"]["errorCode"]
    assert requests.get(server.base_url + "/whoami", headers=HEADERS).status_code == 200, (
        "other buckets unaffected"
    )
    counts = sim.request_counts()
    assert counts["429"] == 1 and counts["POST export-responses"] == 3
    assert counts["429 POST export-responses"] == 1 and counts["export jobs started"] == 2


def test_error_rate_is_deterministic() -> None:
    texts = {500: "500 - Internal Server Error", 503: "503 - Temporary Internal Server Error"}

    def statuses() -> list[int]:
        sim = Simulator(SimulatorConfig(seed=11, surveys=1, responses_per_survey=1, error_rate_5xx=0.5))
        with sim.serve() as server:
            responses = [requests.get(server.base_url + "/whoami", headers=HEADERS) for _ in range(30)]
        for response in responses:
            if response.status_code >= 500:
                meta = response.json()["meta"]
                assert meta["httpStatus"] == texts[response.status_code]
                assert {"errorCode", "errorMessage", "instanceId"} == set(meta["error"])
        return [r.status_code for r in responses]

    first = statuses()
    assert set(first) <= {200, 500, 503} and 500 in first and 200 in first
    assert first == statuses()


def test_failed_export(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    sim.set_faults(fail_exports=1)
    failed = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert failed.final == {"fileId": None, "percentComplete": 100.0, "status": "failed"}
    assert run_export(server.base_url, survey_id, {"format": "ndjson"}).final["status"] == "complete"


def test_dropped_download_raises_on_client(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"}, download=False)
    sim.set_faults(drop_downloads=1)
    url = f"{server.base_url}/surveys/{survey_id}/export-responses/{export.final['fileId']}/file"
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url, headers=HEADERS).content  # noqa: B018 - reading the body is the point
    again = requests.get(url, headers=HEADERS)
    assert zipfile.ZipFile(io.BytesIO(again.content)).testzip() is None


def test_corrupt_zip_fails_crc_check(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"}, download=False)
    sim.set_faults(corrupt_zips=1)
    url = f"{server.base_url}/surveys/{survey_id}/export-responses/{export.final['fileId']}/file"
    corrupt = requests.get(url, headers=HEADERS).content
    with zipfile.ZipFile(io.BytesIO(corrupt)) as archive, pytest.raises(zipfile.BadZipFile, match="CRC"):
        archive.read(archive.namelist()[0])
    clean = requests.get(url, headers=HEADERS).content
    assert zipfile.ZipFile(io.BytesIO(clean)).testzip() is None


def test_request_counts_and_reset(sim: Simulator, server: ServerHandle) -> None:
    requests.get(server.base_url + "/whoami", headers=HEADERS)
    requests.get(server.base_url + "/whoami")
    counts = sim.request_counts()
    assert counts["GET whoami"] == 2 and counts["200"] == 1 and counts["400"] == 1
    sim.reset_counts()
    assert sim.request_counts().get("GET whoami", 0) == 0
    assert sim.request_counts()["200"] == 0
