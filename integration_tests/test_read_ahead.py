"""The installed CLI on a distant simulator: directory_contacts' page chain is read while earlier streams run.

The CDK reads streams one after another; the contacts' `skipToken` chain is read ahead from the start
of the sync (`page_spool.py`). Proven by the simulator's own request counts, taken the moment the first
stream reports itself complete: contact pages were already being read. Every contact arrives once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.directory import directory_of

from testkit import Connector, configure, simulator_config
from testkit.interrupted import run_live

FIRST = "survey_versions"  # one request per survey: long enough at 50 ms a round trip


@pytest.fixture
def brand_with_contacts() -> Iterator[ServerHandle]:
    sim = Simulator(SimulatorConfig(seed=8, surveys=40, responses_per_survey=1, page_size=10, contacts=150))
    with sim.serve() as server:
        yield server


def contact_pages(counts: dict[str, int]) -> int:
    return counts.get("GET directories/{id}/contacts", 0)


def completes(message: dict[str, Any], stream: str) -> bool:
    status = message.get("trace", {}).get("stream_status", {})
    return status.get("stream_descriptor", {}).get("name") == stream and status.get("status") == "COMPLETE"


def test_contacts_are_read_while_the_first_stream_runs_and_each_arrives_once(
    brand_with_contacts: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand_with_contacts.sim
    sim.set_faults(latency_ms=50)
    catalog = configure(discovered, FIRST, "directory_contacts", sync_mode="full_refresh")
    assert [entry["stream"]["name"] for entry in catalog["streams"]][0] == FIRST
    config = simulator_config(brand_with_contacts.base_url, max_concurrent_requests=2)
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
    assert contact_pages(when_first_completed[0]) >= 2
    truth = directory_of(sim.store)
    expected = Counter((d, c["contactId"]) for d, contacts in truth.contacts.items() for c in contacts)
    received = Counter((r["directoryId"], r["contactId"]) for r in run.records("directory_contacts"))
    assert received == expected
    assert set(received.values()) == {1}
    assert contact_pages(sim.request_counts()) == sum(-(-len(c) // 10) for c in truth.contacts.values())
