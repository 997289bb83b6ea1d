"""Fault matrix: the installed CLI against a misbehaving simulator loses no response and duplicates none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from integration_tests.test_end_to_end import ground_truth, keys
from testkit import Connector, configure, simulator_config

SECRET_TOKEN = "sim-secret-token-93c1f7"

FAULTS: dict[str, dict[str, Any]] = {
    "server_errors": {"error_rate_5xx": 0.15},
    "failed_exports": {"fail_exports": 2},
    "dropped_downloads": {"drop_downloads": 2},
    "corrupt_zips": {"corrupt_zips": 2},
    "rate_limited": {"rate_limits": True, "rate_limit_rpm": {"export_start": 2}},
    "all_together": {
        "error_rate_5xx": 0.1,
        "fail_exports": 1,
        "drop_downloads": 1,
        "corrupt_zips": 1,
        "rate_limits": True,
        "rate_limit_rpm": {"export_start": 3},
    },
}


@pytest.fixture
def faulty() -> Iterator[ServerHandle]:
    sim = Simulator(
        SimulatorConfig(seed=5, surveys=3, responses_per_survey=300, export_seconds=0.1, token=SECRET_TOKEN)
    )
    with sim.serve() as server:
        yield server


def assert_exact(run: Any, server: ServerHandle) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    received = keys(run.records("responses"))
    assert len(received) == len(set(received)), "no response is duplicated"
    assert set(received) == ground_truth(server), "no response is lost"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_sync_under_faults_returns_exactly_the_ground_truth(
    fault: str, faulty: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    faulty.sim.set_faults(**FAULTS[fault])
    run = connector.run(
        "read",
        simulator_config(faulty.base_url, token=SECRET_TOKEN),
        catalog=configure(discovered, "responses"),
    )
    assert_exact(run, faulty)
    assert SECRET_TOKEN not in run.raw_stdout and SECRET_TOKEN not in run.stderr
    counts = faulty.sim.request_counts()
    injected = sum(counts.get(status, 0) for status in ("429", "500", "503"))
    if fault in ("server_errors", "rate_limited", "all_together"):
        assert injected > 0, f"the fault was really injected: {counts}"


def test_an_expired_continuation_token_falls_back_to_a_date_window(
    faulty: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = simulator_config(faulty.base_url, token=SECRET_TOKEN)
    catalog = configure(discovered, "responses")
    faulty.sim.set_faults(token_max_age_seconds=1.0)
    first = connector.run("read", config, catalog=catalog)
    assert_exact(first, faulty)
    sim = faulty.sim
    survey_a, survey_b, _ = sim.survey_ids()
    added = sim.add_responses(survey_a, 5)
    edited = sim.edit_responses(survey_b, 3)
    time.sleep(1.5)

    second = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert second.returncode == 0, second.stderr[-3000:]
    received = keys(second.records("responses"))
    assert len(received) == len(set(received))
    assert {(survey_a, r) for r in added} | {(survey_b, r) for r in edited} <= set(received)
    assert "falling back to a date window" in second.raw_stdout


def test_debug_logging_never_prints_the_token(
    faulty: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    faulty.sim.set_faults(error_rate_5xx=0.1, fail_exports=1)
    args = connector.args(
        "read",
        simulator_config(faulty.base_url, token=SECRET_TOKEN),
        catalog=configure(discovered, "responses"),
    )
    run = connector.execute([*args, "--debug"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert '"type": "DEBUG"' in run.raw_stdout and "export-responses" in run.raw_stdout
    assert SECRET_TOKEN not in run.raw_stdout and SECRET_TOKEN not in run.stderr


def test_a_failing_survey_does_not_stop_the_others(
    faulty: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = faulty.sim
    doomed = sim.survey_ids()[1]
    sim.delete_survey(doomed)
    config = simulator_config(faulty.base_url, token=SECRET_TOKEN)
    survey_ids = [*sim.survey_ids(), doomed]
    run = connector.run(
        "read", {**config, "survey_ids": survey_ids}, catalog=configure(discovered, "responses")
    )
    assert run.returncode != 0
    received = set(keys(run.records("responses")))
    assert received == ground_truth(faulty)
    errors = [m["trace"]["error"]["message"] for m in run.of_type("TRACE") if m["trace"]["type"] == "ERROR"]
    assert any(doomed in message for message in errors)
    states = run.states("responses")[-1]["states"]
    assert {e["partition"]["survey_id"] for e in states} == set(sim.survey_ids())
    assert SECRET_TOKEN not in run.raw_stdout
