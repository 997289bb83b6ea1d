"""The installed CLI against the simulator: account, directory, distribution, webhook and response-id streams.

Pages are 4 elements long here, so every collection with more than 4 elements is read over several
`offset` or `skipToken` pages, exactly as the connector would page a real brand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.directory import directory_of

from testkit import Connector, Run, configure, simulator_config

NEW_STREAMS = (
    "users",
    "groups",
    "directories",
    "directory_contacts",
    "mailing_lists",
    "mailing_list_contacts",
    "distributions",
    "distribution_history",
    "event_subscriptions",
    "response_ids",
)
DELETED_RESPONSES_SQL = (Path(__file__).resolve().parent.parent / "docs" / "streams-directory.md").read_text()


@pytest.fixture
def paged_simulator() -> Iterator[ServerHandle]:
    sim = Simulator(
        SimulatorConfig(seed=5, surveys=2, responses_per_survey=60, export_seconds=0.05, page_size=4)
    )
    with sim.serve() as server:
        yield server


def warnings(run: Run) -> list[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def test_every_new_stream_returns_exactly_the_simulators_records(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = paged_simulator.sim
    truth = directory_of(sim.store)
    surveys = sim.store.surveys()
    catalog = configure(discovered, *NEW_STREAMS, sync_mode="full_refresh")
    run = connector.run("read", simulator_config(paged_simulator.base_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not warnings(run), warnings(run)

    assert sorted(r["id"] for r in run.records("users")) == sorted(u["id"] for u in truth.users)
    assert {r["id"]: [m["id"] for m in r["members"]] for r in run.records("groups")} == {
        g: [m["id"] for m in members] for g, members in truth.group_members.items()
    }
    assert [r["directoryId"] for r in run.records("directories")] == [
        d["directoryId"] for d in truth.directories
    ]
    assert sorted((r["directoryId"], r["contactId"]) for r in run.records("directory_contacts")) == sorted(
        (d, c["contactId"]) for d, contacts in truth.contacts.items() for c in contacts
    )
    assert sorted((r["directoryId"], r["mailingListId"]) for r in run.records("mailing_lists")) == sorted(
        (d, ml["mailingListId"]) for d, ml in truth.all_mailing_lists()
    )
    assert sorted(
        (r["directoryId"], r["mailingListId"], r["contactId"]) for r in run.records("mailing_list_contacts")
    ) == sorted(
        (d, ml["mailingListId"], c["contactId"])
        for d, ml in truth.all_mailing_lists()
        for c in truth.list_members[ml["mailingListId"]]
    )
    distributions = {info.id: truth.distributions(info) for info in surveys}
    assert sorted((r["surveyId"], r["id"]) for r in run.records("distributions")) == sorted(
        (sid, d["id"]) for sid, items in distributions.items() for d in items
    )
    expected_history = sorted(
        (info.id, d["id"], h["contactId"], h["responseId"])
        for info in surveys
        for d in distributions[info.id]
        if d["requestType"] != "TestEmail"
        for h in truth.history(info, d["id"])
    )
    received_history = sorted(
        (r["surveyId"], r["distributionId"], r["contactId"], r.get("responseId"))
        for r in run.records("distribution_history")
    )
    assert received_history == expected_history
    assert sorted(r["id"] for r in run.records("event_subscriptions")) == sorted(
        s["id"] for s in truth.event_subscriptions(surveys)
    )
    assert sorted((r["surveyId"], r["responseId"]) for r in run.records("response_ids")) == sorted(
        (info.id, rid) for info in surveys for rid in sim.response_ids(info.id)
    )


def test_forbidden_streams_warn_with_the_scope_and_the_sync_succeeds(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    paged_simulator.sim.set_faults(
        forbidden_paths=["/users", "/eventsubscriptions", "/directories/*/contacts"]
    )
    streams = ("users", "event_subscriptions", "directory_contacts", "directories", "surveys")
    run = connector.run(
        "read",
        simulator_config(paged_simulator.base_url),
        catalog=configure(discovered, *streams, sync_mode="full_refresh"),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.of_type("TRACE") or all(t["trace"]["type"] != "ERROR" for t in run.of_type("TRACE"))
    assert (
        run.records("users") == run.records("event_subscriptions") == run.records("directory_contacts") == []
    )
    assert len(run.records("directories")) == 2 and len(run.records("surveys")) == 2
    found = " | ".join(warnings(run))
    for scope in ("read:users", "read:subscriptions", "read:directory_contacts"):
        assert scope in found, found
    counts = paged_simulator.sim.request_counts()
    assert counts.get("GET directories/{id}/contacts") == 2, "one 403 per directory, never retried"


def deleted_by_query(
    responses: list[dict[str, Any]], response_ids: list[dict[str, Any]]
) -> set[tuple[str, str]]:
    """Load the synced rows into SQLite as a destination would, and run the documented query."""
    start = DELETED_RESPONSES_SQL.index("```sql\n") + len("```sql\n")
    query = DELETED_RESPONSES_SQL[start : DELETED_RESPONSES_SQL.index("```", start)]
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE responses ("surveyId" TEXT, "responseId" TEXT, "recordedDate" TEXT)')
    db.execute('CREATE TABLE response_ids ("surveyId" TEXT, "responseId" TEXT, "snapshotAt" TEXT)')
    db.executemany(
        "INSERT INTO responses VALUES (?, ?, ?)",
        [(r["surveyId"], r["responseId"], r["recordedDate"]) for r in responses],
    )
    db.executemany(
        "INSERT INTO response_ids VALUES (?, ?, ?)",
        [(r["surveyId"], r["responseId"], r["snapshotAt"]) for r in response_ids],
    )
    return {(row[0], row[1]) for row in db.execute(query)}


def dedup(rows: list[dict[str, Any]], *key: str) -> list[dict[str, Any]]:
    """What append+dedup leaves in a destination: the last row per primary key."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        latest[tuple(row[k] for k in key)] = row
    return list(latest.values())


def test_deleted_responses_are_found_exactly_by_the_documented_query(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = paged_simulator.sim
    first_survey, second_survey = sim.survey_ids()
    config = simulator_config(paged_simulator.base_url)
    catalog = configure(discovered, "responses", "response_ids")

    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.records("response_ids") == [], "no survey has deletions yet: nothing to snapshot"
    assert deleted_by_query(first.records("responses"), []) == set()

    doomed = list(sim.response_ids(first_survey))[5:8]
    sim.delete_responses(first_survey, doomed)
    sim.reset_counts()
    second = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert second.returncode == 0, second.stderr[-2000:]
    assert {r["surveyId"] for r in second.records("response_ids")} == {first_survey}
    assert sim.request_counts().get("POST export-responses") == 3, "two responses exports + one id export"

    responses = dedup(first.records("responses") + second.records("responses"), "surveyId", "responseId")
    ids = dedup(first.records("response_ids") + second.records("response_ids"), "surveyId", "responseId")
    assert deleted_by_query(responses, ids) == {(first_survey, rid) for rid in doomed}

    more = list(sim.response_ids(second_survey))[:2]
    sim.delete_responses(second_survey, more)
    third = connector.run("read", config, catalog=catalog, state=second.latest_states())
    assert third.returncode == 0, third.stderr[-2000:]
    ids = dedup(ids + third.records("response_ids"), "surveyId", "responseId")
    expected = {(first_survey, rid) for rid in doomed} | {(second_survey, rid) for rid in more}
    assert deleted_by_query(responses, ids) == expected
