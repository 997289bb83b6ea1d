"""`sms_distributions` end to end: the installed CLI against the simulator's `GET /distributions/sms`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from testkit import Connector, Run, configure, simulator_config

STREAM = "sms_distributions"


@pytest.fixture
def brand() -> Iterator[ServerHandle]:
    """Two surveys with an SMS invitation and reminder each, listed one per page."""
    config = SimulatorConfig(seed=9, surveys=2, responses_per_survey=10, page_size=1)
    with Simulator(config).serve() as server:
        yield server


def read(connector: Connector, server: ServerHandle, discovered: dict[str, Any], state: Any = None) -> Run:
    catalog = configure(discovered, STREAM)
    run = connector.run("read", simulator_config(server.base_url), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def read_count(run: Run) -> int:
    """The count the CDK logs for the stream at the end of the sync."""
    prefix = "Read "
    for message in run.of_type("LOG"):
        text = message["log"]["message"]
        if text.startswith(prefix) and text.endswith(f"records from {STREAM} stream"):
            return int(text[len(prefix) :].split()[0])
    raise AssertionError(f"no record count logged for {STREAM}")


def truth(server: ServerHandle) -> dict[str, dict[str, Any]]:
    sms = server.sim.sms_distributions
    return {record["id"]: record for info in server.sim.store.surveys() for record in sms.records(info)}


def test_sms_distributions_arrive_typed_in_a_first_and_an_incremental_sync(
    brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    schema = next(s for s in discovered["streams"] if s["name"] == STREAM)["json_schema"]
    validator = Draft7Validator(schema)
    survey = brand.sim.store.surveys()[0]
    recent = brand.sim.sms_distributions.add(survey, int(time.time() * 1000))
    first = read(connector, brand, discovered)
    records = first.records(STREAM)
    expected = truth(brand)
    assert {r["id"]: r for r in records} == expected, "every field as Qualtrics lists it"
    assert read_count(first) == len(records) == 5
    for record in records:
        assert list(validator.iter_errors(record)) == []
        assert set(record) <= set(schema["properties"]), "every emitted field is declared"
        assert record["id"].startswith("SMSD_") and "headers" not in record
        assert isinstance(record["stats"]["credits"], int) and isinstance(record["stats"]["segments"], int)

    added = brand.sim.sms_distributions.add(survey, int(time.time() * 1000))
    second = read(connector, brand, discovered, state=first.latest_states())
    ids = sorted(r["id"] for r in second.records(STREAM))
    # the new one, and the recent one again (its stats still move); the others are past the look-back
    assert ids == sorted([recent.id, added.id])
    assert read_count(second) == 2
