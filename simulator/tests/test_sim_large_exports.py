"""What the largest surveys and brands do: size caps, slow and multi-file exports, unexportable surveys."""

from __future__ import annotations

import time

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.admin_client import AdminClient, AdminError

from .conftest import HEADERS, run_export

FAILED = {"fileId": None, "percentComplete": 100.0, "status": "failed"}


def recorded_dates(server: ServerHandle, survey_id: str) -> list[str]:
    export = run_export(server.base_url, survey_id, {"format": "ndjson"})
    return [r["values"]["recordedDate"] for r in export.records]


def start(server: ServerHandle, survey_id: str, body: dict[str, object]) -> requests.Response:
    url = f"{server.base_url}/surveys/{survey_id}/export-responses"
    return requests.post(url, json=body, headers=HEADERS)


# --- 1. too large fails ---------------------------------------------------------------------------------


def test_an_export_over_the_record_cap_fails_and_a_window_that_fits_succeeds(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    dates = recorded_dates(server, survey_id)
    sim.set_faults(export_record_cap=300)
    assert run_export(server.base_url, survey_id, {"format": "ndjson"}).final == FAILED
    window = {"format": "ndjson", "startDate": dates[0][:19] + "Z", "endDate": dates[250][:19] + "Z"}
    narrow = run_export(server.base_url, survey_id, window)
    assert narrow.final["status"] == "complete" and 240 <= len(narrow.records) <= 300
    sim.set_faults(export_record_cap=None)
    assert run_export(server.base_url, survey_id, {"format": "ndjson"}).final["status"] == "complete"


def test_an_export_over_the_byte_cap_fails(server: ServerHandle, survey_id: str) -> None:
    full = run_export(server.base_url, survey_id, {"format": "ndjson", "compress": False})
    size = len(full.raw)
    admin = AdminClient(server.admin_url)
    assert admin.set_faults(export_byte_cap=size - 1)["export_byte_cap"] == size - 1
    assert run_export(server.base_url, survey_id, {"format": "ndjson"}).final == FAILED
    admin.set_faults(export_byte_cap=size)
    assert len(run_export(server.base_url, survey_id, {"format": "ndjson"}).records) == 500


def test_caps_are_settable_at_construction() -> None:
    sim = Simulator(SimulatorConfig(seed=3, surveys=1, responses_per_survey=50, export_record_cap=49))
    with sim.serve() as server:
        assert run_export(server.base_url, sim.survey_ids()[0], {"format": "json"}).final == FAILED
        assert run_export(server.base_url, sim.survey_ids()[0], {"format": "json", "limit": 49}).records


# --- 2. completion by wall-clock time -------------------------------------------------------------------


def test_one_survey_takes_longer_and_reports_growing_progress(
    sim: Simulator, server: ServerHandle, survey_id: str
) -> None:
    other = sim.survey_ids()[1]
    sim.set_faults(export_seconds_by_survey={survey_id: 0.6})
    began = time.monotonic()
    slow = run_export(server.base_url, survey_id, {"format": "ndjson"})
    assert time.monotonic() - began >= 0.6
    percents = [poll["result"]["percentComplete"] for poll in slow.polls]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert len({p for p in percents if 0 < p < 100}) >= 3, percents
    began = time.monotonic()
    assert run_export(server.base_url, other, {"format": "ndjson"}).final["status"] == "complete"
    assert time.monotonic() - began < 0.5


def test_bigger_exports_take_longer_at_the_per_record_rate(server: ServerHandle, survey_id: str) -> None:
    AdminClient(server.admin_url).set_faults(export_seconds=0.0, export_seconds_per_1000_records=1.0)
    began = time.monotonic()
    run_export(server.base_url, survey_id, {"format": "ndjson"})  # 500 records: 0.5 s
    full = time.monotonic() - began
    began = time.monotonic()
    run_export(server.base_url, survey_id, {"format": "ndjson", "limit": 50})  # 0.05 s
    assert full >= 0.5 > time.monotonic() - began


# --- 3. several files in one zip ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_records_beyond_records_per_file_go_to_numbered_files_in_the_same_zip(
    sim: Simulator, server: ServerHandle, survey_id: str, fmt: str
) -> None:
    sim.set_faults(records_per_file=200)
    export = run_export(server.base_url, survey_id, {"format": fmt})
    name = sim.store.survey(survey_id).name
    assert list(export.files) == [f"{name}.{fmt}", f"{name}_1.{fmt}", f"{name}_2.{fmt}"]
    assert [len(export.records_of(member)) for member in export.files] == [200, 200, 100]
    assert [r["responseId"] for r in export.records] == list(sim.response_ids(survey_id))


def test_an_uncompressed_export_stays_one_file(sim: Simulator, server: ServerHandle, survey_id: str) -> None:
    sim.set_faults(records_per_file=200)
    assert len(run_export(server.base_url, survey_id, {"format": "ndjson", "compress": False}).records) == 500


# --- 4. listed but unexportable surveys -----------------------------------------------------------------


def test_listed_surveys_can_refuse_exports_with_403_or_404(sim: Simulator, server: ServerHandle) -> None:
    forbidden, missing, fine = sim.survey_ids()
    AdminClient(server.admin_url).set_faults(
        export_forbidden_surveys=[forbidden], export_missing_surveys=[missing]
    )
    listed = requests.get(server.base_url + "/surveys", headers=HEADERS).json()["result"]["elements"]
    assert [s["id"] for s in listed] == [forbidden, missing, fine]
    denied = start(server, forbidden, {"format": "ndjson"})
    assert denied.status_code == 403
    assert denied.json()["meta"]["httpStatus"] == "403 - Forbidden"
    assert set(denied.json()["meta"]["error"]) == {"errorCode", "errorMessage"}
    gone = start(server, missing, {"format": "ndjson"})
    assert gone.status_code == 404 and gone.json()["meta"]["error"]["errorCode"] == "GSI_2"
    assert start(server, fine, {"format": "ndjson"}).status_code == 200
    counts = sim.request_counts()
    assert counts["POST export-responses"] == 3 and counts["403"] == 1 and counts["404"] == 1


def test_a_survey_deleted_after_listing_answers_404_on_export_and_on_progress(
    sim: Simulator, server: ServerHandle
) -> None:
    deleted_first, deleted_during, _ = sim.survey_ids()
    sim.set_faults(export_seconds=5.0)
    pending = start(server, deleted_during, {"format": "ndjson"}).json()["result"]["progressId"]
    sim.delete_survey(deleted_first)
    sim.delete_survey(deleted_during)
    gone = start(server, deleted_first, {"format": "ndjson"})
    assert gone.status_code == 404 and gone.json()["meta"]["error"]["errorCode"] == "GSI_2"
    poll = requests.get(
        f"{server.base_url}/surveys/{deleted_during}/export-responses/{pending}", headers=HEADERS
    )
    assert poll.status_code == 404


def test_bad_knob_values_are_rejected(server: ServerHandle) -> None:
    admin = AdminClient(server.admin_url)
    for knobs in (
        {"export_record_cap": 0},
        {"records_per_file": -1},
        {"export_seconds_by_survey": {"SV_x": "slow"}},
        {"export_missing_surveys": "SV_x"},
    ):
        with pytest.raises(AdminError) as error:
            admin.set_faults(**knobs)
        assert error.value.status == 400
