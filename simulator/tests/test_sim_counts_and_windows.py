"""responseCounts on GET /surveys/{id}, and export windows on the last-modified date."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from .conftest import HEADERS, run_export

SORTED = {"format": "ndjson", "sortByLastModifiedDate": True}


def response_counts(server: ServerHandle, survey_id: str) -> dict[str, int]:
    reply = requests.get(f"{server.base_url}/surveys/{survey_id}", headers=HEADERS)
    assert reply.status_code == 200
    return dict(reply.json()["result"]["responseCounts"])


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["responseId"] for r in records]


def shifted(iso: str, milliseconds: int) -> str:
    """The simulator is stdlib-only, so its tests shift dates with datetime."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(milliseconds=milliseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- 5. responseCounts ----------------------------------------------------------------------------------


def test_response_counts_track_adds_and_deletes_but_not_edits_or_in_progress(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    assert response_counts(server, survey_id) == {"auditable": 500, "generated": 0, "deleted": 0}
    sim.add_responses(survey_id, 5)
    sim.edit_responses(survey_id, 3)
    assert response_counts(server, survey_id) == {"auditable": 505, "generated": 0, "deleted": 0}
    sim.delete_responses(survey_id, list(sim.response_ids(survey_id))[:2])
    assert response_counts(server, survey_id) == {"auditable": 503, "generated": 0, "deleted": 2}
    assert len(run_export(server.base_url, survey_id, {"format": "ndjson"}).records) == 503


def test_generated_test_and_preview_responses_are_counted_apart_and_exported() -> None:
    sim = Simulator(SimulatorConfig(seed=5, surveys=1, responses_per_survey=44, generated_per_survey=17))
    with sim.serve() as server:
        survey_id = sim.survey_ids()[0]
        assert response_counts(server, survey_id) == {"auditable": 27, "generated": 17, "deleted": 0}
        records = run_export(server.base_url, survey_id, {"format": "ndjson"}).records
        assert len(records) == 44, "a full export holds auditable + generated responses"
        kinds = Counter(
            (r["values"]["status"], r["labels"]["status"], r["values"]["distributionChannel"])
            for r in records
            if r["values"]["status"]
        )
        assert kinds == {(2, "Survey Test", "test"): 15, (1, "Survey Preview", "preview"): 2}
        test_response = next(r["responseId"] for r in records if r["values"]["status"] == 2)
        real_response = next(r["responseId"] for r in records if r["values"]["status"] == 0)
        sim.delete_responses(survey_id, [test_response, real_response])
        assert response_counts(server, survey_id) == {"auditable": 26, "generated": 16, "deleted": 2}


# --- 6. windows on the last-modified date ---------------------------------------------------------------


def test_last_modified_windows_partition_the_survey_and_edits_move_to_their_edit_date(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    early = list(sim.response_ids(survey_id))[:100]
    edited = sim.edit_responses(survey_id, early[:3])
    added = sim.add_responses(survey_id, 4)
    full = run_export(server.base_url, survey_id, SORTED).records
    middle = full[250]["values"]["lastModifiedDate"]
    boundary = "2026-01-01T00:00:00Z"  # base responses were recorded before; edits and adds after
    windows = [
        {**SORTED, "endDate": middle},
        {**SORTED, "startDate": middle, "endDate": boundary},
        {**SORTED, "startDate": boundary},
    ]
    parts = [ids(run_export(server.base_url, survey_id, window).records) for window in windows]
    assert parts[0] + parts[1] + parts[2] == ids(full), "no gap, no overlap, same order"
    assert parts[1][0] == full[250]["responseId"], "startDate is inclusive"
    assert set(parts[2]) == set(edited) | set(added)
    assert not set(edited) & set(parts[0]), "an edited response leaves the window of its recorded date"
    by_recorded = run_export(server.base_url, survey_id, {"format": "ndjson", "endDate": middle}).records
    assert set(edited) <= set(ids(by_recorded)), "without sortByLastModifiedDate, windows use recordedDate"


def test_window_bounds_are_exact_to_the_millisecond(server: ServerHandle, survey_id: str) -> None:
    target = run_export(server.base_url, survey_id, SORTED).records[42]
    modified = target["values"]["lastModifiedDate"]
    just_it = {**SORTED, "startDate": modified, "endDate": shifted(modified, 1)}
    assert ids(run_export(server.base_url, survey_id, just_it).records) == [target["responseId"]]
    before = {**SORTED, "startDate": shifted(modified, -1), "endDate": modified}
    assert target["responseId"] not in ids(run_export(server.base_url, survey_id, before).records)


def test_the_open_last_window_with_allow_continuation_returns_a_token_that_continues_from_it(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    full = run_export(server.base_url, survey_id, SORTED).records
    start = full[400]["values"]["lastModifiedDate"]
    last = run_export(server.base_url, survey_id, {**SORTED, "startDate": start, "allowContinuation": True})
    assert ids(last.records) == ids(full[400:])
    token = last.final["continuationToken"]
    added = sim.add_responses(survey_id, 2)
    edited = sim.edit_responses(survey_id, [full[0]["responseId"]])
    after = run_export(server.base_url, survey_id, {**SORTED, "continuationToken": token})
    assert ids(after.records) == added + edited
