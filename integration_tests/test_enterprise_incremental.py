"""The installed CLI against the simulator: per-item streams pay per item only for what can have changed.

`distribution_history` re-reads only distributions sent within the look-back; `contact_transactions`
reads every contact once (a bounded first pass that resumes), then only contacts named by new
transaction batches. Requests are counted with the simulator's admin API.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from testkit import Connector, Run, configure, simulator_config

HISTORY = "GET distributions/{id}/history"
PER_CONTACT = "GET contacts/{id}/transactions"
PAGE = 4


@pytest.fixture
def small_brand() -> Iterator[ServerHandle]:
    sim = Simulator(SimulatorConfig(seed=9, surveys=2, responses_per_survey=30, page_size=PAGE))
    with sim.serve() as server:
        yield server


def read(
    connector: Connector, server: ServerHandle, catalog: dict[str, Any], state: Any, **settings: Any
) -> Run:
    server.sim.reset_counts()
    run = connector.run("read", simulator_config(server.base_url, **settings), catalog=catalog, state=state)
    assert run.returncode == 0, run.tail()
    return run


def history_pages(server: ServerHandle, survey_id: str, distribution_id: str) -> int:
    rows = server.sim.directory.history(server.sim.store.survey(survey_id), distribution_id)
    return max(1, math.ceil(len(rows) / PAGE))


def test_a_second_history_sync_reads_only_distributions_in_the_look_back_and_brings_their_changes(
    small_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = small_brand.sim
    first_survey, second_survey = sim.survey_ids()
    recent = sim.directory.new_distribution(sim.store.survey(first_survey), _now_ms()).id
    catalog = configure(discovered, "distribution_history")

    first = read(connector, small_brand, catalog, None)
    old = {
        d["id"]
        for info in sim.store.surveys()
        for d in sim.directory.distributions(info)
        if d["requestType"] != "TestEmail" and d["id"] != recent
    }
    assert {r["distributionId"] for r in first.records("distribution_history")} == old | {recent}
    assert first.states("distribution_history"), "an incremental stream checkpoints"

    opened = sim.directory.open_email(recent, None, _now_ms())
    added = sim.directory.new_distribution(sim.store.survey(second_survey), _now_ms()).id
    second = read(connector, small_brand, catalog, first.latest_states())

    records = second.records("distribution_history")
    assert {r["distributionId"] for r in records} == {recent, added}, "histories older than 70 days stay"
    counts = sim.request_counts()
    expected = history_pages(small_brand, first_survey, recent) + history_pages(
        small_brand, second_survey, added
    )
    assert counts.get(HISTORY) == expected
    assert counts.get("GET distributions") == 2, "one distribution list per survey"
    before = {
        r["contactId"]: r for r in first.records("distribution_history") if r["distributionId"] == recent
    }
    after = {r["contactId"]: r for r in records if r["distributionId"] == recent}
    assert before[opened].get("openedAt") is None and after[opened].get("openedAt") is not None
    assert after[opened]["status"] == "Opened"


def test_a_longer_look_back_reads_older_histories_again(
    small_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    catalog = configure(discovered, "distribution_history")
    first = read(connector, small_brand, catalog, None)
    again = read(
        connector, small_brand, catalog, first.latest_states(), distribution_history_lookback_days=3650
    )
    assert {r["distributionId"] for r in again.records("distribution_history")} == {
        r["distributionId"] for r in first.records("distribution_history")
    }


def transactions_truth(server: ServerHandle) -> set[tuple[str, str]]:
    from qualtrics_simulator.transactions import contact_transactions

    directory = server.sim.directory
    return {
        (row["contactId"], row["transactionId"])
        for d, contacts in directory.contacts.items()
        for contact in contacts
        for row in contact_transactions(directory, d, contact["contactId"])
    }


def pairs(run: Run) -> set[tuple[str, str]]:
    return {(r["contactId"], r["transactionId"]) for r in run.records("contact_transactions")}


def test_contact_transactions_reads_each_contact_once_then_only_contacts_in_new_batches(
    small_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = small_brand.sim
    catalog = configure(discovered, "contact_transactions")
    contacts = sum(len(c) for c in sim.directory.contacts.values())

    first = read(connector, small_brand, catalog, None)
    assert pairs(first) == transactions_truth(small_brand)
    assert sim.request_counts().get(PER_CONTACT) == contacts

    directory_id = sim.directory.directories[0]["directoryId"]
    someone = sim.directory.contacts[directory_id][5]["contactId"]
    _, new_ids = sim.directory.add_transactions(directory_id, [someone], 2, _now_ms())
    second = read(connector, small_brand, catalog, first.latest_states())
    assert sim.request_counts().get(PER_CONTACT) == 1, "only the contact named by the new batch"
    assert set(new_ids) <= {r["transactionId"] for r in second.records("contact_transactions")}
    assert {r["contactId"] for r in second.records("contact_transactions")} == {someone}

    third = read(connector, small_brand, catalog, second.latest_states())
    assert sim.request_counts().get(PER_CONTACT, 0) == 0 and third.records("contact_transactions") == []


def test_the_first_pass_is_bounded_per_sync_and_resumes_where_it_stopped(
    connector: Connector, discovered: dict[str, Any]
) -> None:
    config = SimulatorConfig(seed=3, surveys=1, responses_per_survey=1, contacts=250, transactions=300)
    with Simulator(config).serve() as server:
        catalog = configure(discovered, "contact_transactions")
        seen: set[tuple[str, str]] = set()
        state = None
        runs, per_sync = [], []
        for _ in range(4):
            runs.append(read(connector, server, catalog, state, contact_transactions_per_sync=100))
            per_sync.append(server.sim.request_counts().get(PER_CONTACT, 0))
            seen |= pairs(runs[-1])
            state = runs[-1].latest_states()
        assert per_sync == [100, 100, 57, 0], "250 + 7 contacts: 100 a sync, then nothing to do"
        assert seen == transactions_truth(server)
        warned = [m["log"]["message"] for m in runs[0].of_type("LOG") if m["log"]["level"] == "WARN"]
        assert any("continues with the next sync" in message for message in warned), warned


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
