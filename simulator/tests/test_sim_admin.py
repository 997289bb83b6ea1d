"""Admin API over HTTP (through AdminClient): ground truth and mutations seen by exports."""

from __future__ import annotations

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator
from qualtrics_simulator.admin_client import AdminClient, AdminError

from .conftest import HEADERS, run_export


@pytest.fixture
def admin(server: ServerHandle) -> AdminClient:
    return AdminClient(server.admin_url)


def test_ground_truth_matches_simulator(admin: AdminClient, sim: Simulator, survey_id: str) -> None:
    ids = admin.response_ids(survey_id)
    assert ids == list(sim.response_ids(survey_id)) and len(ids) == 500
    assert admin.survey_ids() == sim.survey_ids()


def test_add_edit_delete(admin: AdminClient, server: ServerHandle, survey_id: str) -> None:
    added = admin.add_responses(survey_id, 3)
    assert len(added) == 3 and all(i.startswith("R_") and len(i) == 17 for i in added)
    ids = admin.response_ids(survey_id)
    assert ids[-3:] == added and len(ids) == 503
    edited = admin.edit_responses(survey_id, [ids[0], ids[1]])
    assert edited == ids[:2]
    assert len(admin.edit_responses(survey_id, 5)) == 5
    deleted = admin.delete_responses(survey_id, [ids[2]])
    assert deleted == [ids[2]]
    truth = admin.response_ids(survey_id)
    assert ids[2] not in truth and len(truth) == 502
    exported = [r["responseId"] for r in run_export(server.base_url, survey_id, {"format": "ndjson"}).records]
    assert exported == truth
    detail = requests.get(f"{server.base_url}/surveys/{survey_id}", headers=HEADERS).json()["result"]
    assert detail["responseCounts"] == {"auditable": 502, "generated": 0, "deleted": 1}


def test_unknown_ids_are_rejected(admin: AdminClient, survey_id: str) -> None:
    with pytest.raises(AdminError) as error:
        admin.delete_responses(survey_id, ["R_notARealOne1234"])
    assert error.value.status == 404
    with pytest.raises(AdminError):
        admin.add_responses("SV_nope", 1)


def test_add_and_delete_survey(admin: AdminClient, server: ServerHandle) -> None:
    new = admin.add_survey(name="Pop-up Survey", responses=12)
    listed = requests.get(server.base_url + "/surveys", headers=HEADERS).json()["result"]["elements"]
    assert any(e["id"] == new and e["name"] == "Pop-up Survey" for e in listed)
    export = run_export(server.base_url, new, {"format": "ndjson"})
    assert export.member == "Pop-up Survey.ndjson" and len(export.records) == 12
    admin.delete_survey(new)
    assert requests.get(f"{server.base_url}/surveys/{new}", headers=HEADERS).status_code == 404
    assert new not in admin.survey_ids()


def test_faults_and_counts_endpoints(admin: AdminClient, server: ServerHandle) -> None:
    state = admin.set_faults(fail_exports=2, error_rate_5xx=0.0, rate_limit_rpm={"default": 5})
    assert state["fail_exports"] == 2 and state["rate_limit_rpm"] == {"default": 5}
    assert admin.faults()["fail_exports"] == 2
    with pytest.raises(AdminError) as error:
        admin.set_faults(not_a_knob=1)
    assert error.value.status == 400
    requests.get(server.base_url + "/whoami", headers=HEADERS)
    assert admin.request_counts()["GET whoami"] == 1
    admin.reset_counts()
    assert admin.request_counts()["200"] == 0
