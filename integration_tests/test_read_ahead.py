"""The installed CLI on a distant simulator: the streams read ahead are read while earlier streams run.

The CDK reads streams one after another; directory_contacts' `skipToken` chain and distribution_history's
histories (the slowest budget of a sync) are read ahead from the start of the sync (`page_spool.py`).
Proven by the simulator's own request counts, taken the moment the first stream reports itself
complete: their pages were already being read. Every record arrives once, from one read of each page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.directory import directory_of

from testkit import Connector, configure, simulator_config
from testkit.interrupted import LiveRun, run_live

FIRST = "survey_versions"  # one request per survey: long enough at 50 ms a round trip


@pytest.fixture
def brand_with_contacts() -> Iterator[ServerHandle]:
    sim = Simulator(SimulatorConfig(seed=8, surveys=40, responses_per_survey=1, page_size=10, contacts=150))
    with sim.serve() as server:
        yield server


HISTORIES = "GET distributions/{id}/history"


def contact_pages(counts: dict[str, int]) -> int:
    return counts.get("GET directories/{id}/contacts", 0)


def completes(message: dict[str, Any], stream: str) -> bool:
    status = message.get("trace", {}).get("stream_status", {})
    return status.get("stream_descriptor", {}).get("name") == stream and status.get("status") == "COMPLETE"


def test_contacts_are_read_while_the_first_stream_runs_and_each_arrives_once(
    brand_with_contacts: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand_with_contacts.sim
    run, when_first_completed = read_behind_the_first_stream(
        brand_with_contacts, connector, discovered, "directory_contacts"
    )
    assert contact_pages(when_first_completed) >= 2
    truth = directory_of(sim.store)
    expected = Counter((d, c["contactId"]) for d, contacts in truth.contacts.items() for c in contacts)
    received = Counter((r["directoryId"], r["contactId"]) for r in run.records("directory_contacts"))
    assert received == expected
    assert set(received.values()) == {1}
    assert contact_pages(sim.request_counts()) == sum(-(-len(c) // 10) for c in truth.contacts.values())


@pytest.fixture
def brand_with_distributions() -> Iterator[ServerHandle]:
    """30 surveys of 3 distributions each (one a test email): about 60 histories, 15 s at their pace."""
    sim = Simulator(SimulatorConfig(seed=9, surveys=30, responses_per_survey=2, page_size=10))
    with sim.serve() as server:
        yield server


def test_histories_are_read_while_the_first_stream_runs_and_each_arrives_once(
    brand_with_distributions: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand_with_distributions.sim
    run, when_first_completed = read_behind_the_first_stream(
        brand_with_distributions, connector, discovered, "distribution_history"
    )
    assert when_first_completed.get(HISTORIES, 0) >= 2
    truth = directory_of(sim.store)
    histories = {
        distribution["id"]: truth.history(survey, distribution["id"])
        for survey in sim.store.surveys()
        for distribution in truth.distributions(survey)
        if distribution["requestType"] != "TestEmail"
    }
    expected = Counter((d, row["contactId"]) for d, rows in histories.items() for row in rows)
    received = Counter((r["distributionId"], r["contactId"]) for r in run.records("distribution_history"))
    assert received == expected
    assert set(received.values()) == {1}
    counts = sim.request_counts()
    assert counts[HISTORIES] == sum(max(1, -(-len(rows) // 10)) for rows in histories.values())
    assert counts["GET distributions"] == len(sim.store.surveys()), "one list per survey"


def read_behind_the_first_stream(
    server: ServerHandle, connector: Connector, discovered: dict[str, Any], stream: str
) -> tuple[LiveRun, dict[str, int]]:
    """`FIRST` then `stream` at 50 ms a round trip: the run, and the request counts when `FIRST` completed."""
    sim = server.sim
    sim.set_faults(latency_ms=50)
    catalog = configure(discovered, FIRST, stream, sync_mode="full_refresh")
    assert [entry["stream"]["name"] for entry in catalog["streams"]][0] == FIRST
    config = simulator_config(server.base_url, max_concurrent_requests=2)
    sim.reset_counts()
    when_first_completed: list[dict[str, int]] = []

    def note_counts(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        if completes(message, FIRST):
            when_first_completed.append(sim.request_counts())
        return False

    run = run_live(connector.args("read", config, catalog), note_counts, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert when_first_completed, "the first stream completed"
    assert run.records(FIRST)
    assert run.records(stream)
    return run, when_first_completed[0]
