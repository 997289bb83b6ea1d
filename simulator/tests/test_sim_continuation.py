"""Continuation tokens and sortByLastModifiedDate: incremental exports see exactly what changed."""

from __future__ import annotations

import time

import requests
from qualtrics_simulator import ServerHandle, Simulator

from .conftest import HEADERS, run_export


def test_token_export_returns_exactly_added_and_edited(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    body = {"format": "ndjson", "sortByLastModifiedDate": True, "allowContinuation": True}
    first = run_export(server.base_url, survey_id, body)
    token = first.final["continuationToken"]
    assert len(first.records) == 500
    added = sim.add_responses(survey_id, 5)
    edited = sim.edit_responses(survey_id, 4)
    victim = next(r["responseId"] for r in first.records if r["responseId"] not in edited)
    sim.delete_responses(survey_id, [victim])
    second = run_export(
        server.base_url,
        survey_id,
        {"format": "ndjson", "sortByLastModifiedDate": True, "continuationToken": token},
    )
    got = [r["responseId"] for r in second.records]
    assert len(got) == len(set(got)) and set(got) == set(added) | set(edited)
    assert victim not in got
    assert got[-4:] == edited, "ordered by last-modified date: edits came last"
    modified = [r["values"]["lastModifiedDate"] for r in second.records]
    assert modified == sorted(modified)
    for record in second.records:
        if record["responseId"] in edited:
            assert record["values"]["lastModifiedDate"] >= record["values"]["recordedDate"]
            assert "[edit 1]" in record["values"]["QID3_TEXT"]
    # The new export issued a fresh token: nothing changed since, so the next increment is empty.
    fresh = second.final["continuationToken"]
    assert fresh != token
    third = run_export(
        server.base_url,
        survey_id,
        {"format": "ndjson", "sortByLastModifiedDate": True, "continuationToken": fresh},
    )
    assert third.records == []


def test_token_without_sort_returns_only_new_responses(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    first = run_export(server.base_url, survey_id, {"format": "ndjson", "allowContinuation": True})
    added = sim.add_responses(survey_id, 3)
    sim.edit_responses(survey_id, 2)
    body = {"format": "ndjson", "continuationToken": first.final["continuationToken"]}
    assert [r["responseId"] for r in run_export(server.base_url, survey_id, body).records] == added


def test_edited_response_values_change(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    target = list(sim.response_ids(survey_id))[10]
    before = next(
        r
        for r in run_export(server.base_url, survey_id, {"format": "ndjson"}).records
        if r["responseId"] == target
    )
    sim.edit_responses(survey_id, [target])
    after = next(
        r
        for r in run_export(server.base_url, survey_id, {"format": "ndjson"}).records
        if r["responseId"] == target
    )
    assert before["values"]["recordedDate"] == after["values"]["recordedDate"]
    assert before["values"] != after["values"]


def test_sort_by_modified_date_window_filters_on_modified(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    edited = sim.edit_responses(survey_id, 3)
    body = {"format": "ndjson", "sortByLastModifiedDate": True, "startDate": "2026-01-01T00:00:00Z"}
    got = [r["responseId"] for r in run_export(server.base_url, survey_id, body).records]
    assert sorted(got) == sorted(edited)
    plain = {"format": "ndjson", "startDate": "2026-01-01T00:00:00Z"}
    assert run_export(server.base_url, survey_id, plain).records == []


def test_expired_token_is_400(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    first = run_export(server.base_url, survey_id, {"format": "ndjson", "allowContinuation": True})
    sim.set_faults(token_max_age_seconds=0.2)
    time.sleep(0.3)
    response = requests.post(
        f"{server.base_url}/surveys/{survey_id}/export-responses",
        json={"format": "ndjson", "continuationToken": first.final["continuationToken"]},
        headers=HEADERS,
    )
    assert response.status_code == 400
    assert "expired" in response.json()["meta"]["error"]["errorMessage"]


def test_foreign_or_garbage_token_is_400(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    first = run_export(server.base_url, survey_id, {"format": "ndjson", "allowContinuation": True})
    other = sim.survey_ids()[1]
    url = f"{server.base_url}/surveys/{other}/export-responses"
    for token in (first.final["continuationToken"], "garbage", first.final["continuationToken"] + "x"):
        response = requests.post(url, json={"format": "ndjson", "continuationToken": token}, headers=HEADERS)
        assert response.status_code == 400, token
