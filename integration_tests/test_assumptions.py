"""What no public Qualtrics document promises, end to end: the installed CLI against a simulator that
answers the way the real service could where the documents are silent. Each misbehaviour costs a
warning (or a debug line), never a response."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator
from qualtrics_simulator.transactions import batch_list

from integration_tests.test_big_surveys import logs, partitions, truth
from integration_tests.test_end_to_end import keys
from testkit import Connector, Run, configure, simulator_config

# -- 1. chunked exports: the order of a `limit`ed export --------------------------------------------------


@pytest.mark.parametrize("order", ["newest_first", "unsorted", "limit_before_sort"])
def test_chunks_in_an_order_no_document_promises_lose_no_response_and_name_the_survey(
    order: str, serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=900, export_record_cap=300)
    sim = server.sim
    (big,) = sim.survey_ids()
    other = sim.add_survey(responses=200)
    sim.edit_responses(big, 60)  # edited responses: recorded early, modified now
    sim.set_faults(limited_export_order=order)
    run = connector.run("read", simulator_config(server.base_url), catalog=configure(discovered, "responses"))
    assert run.returncode == 0, run.tail()
    received = keys(run.records("responses"))
    assert set(received) == truth(server), "every response arrives"
    if order != "limit_before_sort":
        assert len(received) == len(set(received)), "once: the re-export skips what the chunk emitted"
    (warning,) = [
        line for line in logs(run.messages, "WARN") if "Qualtrics counts" in line or "broke" in line
    ]
    assert big in warning and other not in warning
    assert "none is skipped" in warning
    cursor = partitions(run.states("responses")[-1])[big]
    assert "backfill" not in cursor and cursor.get("continuationToken"), "the next sync asks for changes"


# -- 2. `nextPage` on another host of the brand ---------------------------------------------------------

PAGED_STREAMS = ("surveys", "users", "directory_contacts", "mailing_list_contacts", "distributions")


def test_next_page_on_another_host_pages_to_the_end_with_every_request_on_the_configured_host(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=6, responses_per_survey=5, page_size=4)
    sim = server.sim
    catalog = configure(discovered, *PAGED_STREAMS, sync_mode="full_refresh")
    config = simulator_config(server.base_url)
    plain = connector.run("read", config, catalog=catalog)
    assert plain.returncode == 0, plain.tail()

    sim.set_faults(next_page_host="az1.qualtrics.invalid")
    sim.reset_counts()
    run = connector.run("read", config, catalog=catalog)
    assert run.returncode == 0, run.tail()
    for stream in PAGED_STREAMS:
        assert run.records(stream) == plain.records(stream), f"{stream}: every page, to the end"
        assert len(run.records(stream)) > 4, f"{stream}: more than one page"
    configured = server.base_url.split("/")[2]
    assert sim.request_hosts() == {configured: sum(sim.request_hosts().values())}
    assert sim.request_counts()["GET surveys"] >= 2, "the second page was asked of the configured host"
    named = [line for line in logs(run.messages) if "az1.qualtrics.invalid" in line]
    assert len(named) == 1 and configured in named[0], "said once"
    assert not logs(run.messages, "WARN")


# -- 3. endpoints no public document describes ------------------------------------------------------------

BATCH_MEMBERS = "/directories/*/transactionbatches/*/transactions"


def warnings_of(run: Run) -> list[str]:
    return logs(run.messages, "WARN")


@pytest.mark.parametrize(
    ("missing", "stream", "loss"),
    [
        ("/groups/*/members", "groups", "has members = null"),
        ("/divisions", "divisions", "a division no user belongs to is missing"),
        (BATCH_MEMBERS, "transaction_batch_members", "transaction batch(es) have no members in this sync"),
    ],
)
def test_an_undocumented_endpoint_answering_404_is_one_warning_and_the_sync_stays_green(
    missing: str,
    stream: str,
    loss: str,
    serve: Callable[..., ServerHandle],
    connector: Connector,
    discovered: dict[str, Any],
) -> None:
    server = serve(surveys=2, responses_per_survey=5, page_size=4)
    sim = server.sim
    sim.set_faults(missing_paths=[missing])
    catalog = configure(discovered, stream, "users", "surveys", sync_mode="full_refresh")
    run = connector.run("read", simulator_config(server.base_url), catalog=catalog)
    assert run.returncode == 0, run.tail()
    assert not [m for m in run.of_type("TRACE") if m["trace"]["type"] == "ERROR"]
    (warning,) = warnings_of(run)
    assert "answered HTTP 404" in warning and loss in warning and "No public Qualtrics document" in warning
    assert run.records("users") and run.records("surveys"), "the other streams synced"
    if stream == "groups":
        assert run.records("groups") and all(r.get("members") is None for r in run.records("groups"))
    if stream == "divisions":
        named = {u["divisionId"] for u in run.records("users") if u.get("divisionId")}
        assert {r["id"] for r in run.records("divisions")} == named
    if stream == "transaction_batch_members":
        batches = [
            batch["batchId"]
            for directory in sim.directory.directories
            for batch in batch_list(sim.directory, directory["directoryId"])
        ]
        assert batches and all(batch in warning for batch in batches[:20]), (
            "the warning names the batches lost"
        )
        assert run.records(stream) == []


def test_without_batch_members_contact_transactions_falls_back_to_its_pass_over_every_contact(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=2, responses_per_survey=5, page_size=4)
    sim = server.sim
    catalog = configure(discovered, "contact_transactions")
    config = simulator_config(server.base_url)
    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.tail()

    sim.set_faults(missing_paths=[BATCH_MEMBERS])
    directory_id = sim.directory.directories[0]["directoryId"]
    someone = sim.directory.contacts[directory_id][5]["contactId"]
    _, new_ids = sim.directory.add_transactions(directory_id, [someone], 2, int(time.time() * 1000))
    contacts = sum(len(c) for c in sim.directory.contacts.values())
    sim.reset_counts()
    second = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert second.returncode == 0, second.tail()
    assert set(new_ids) <= {r["transactionId"] for r in second.records("contact_transactions")}
    (warning,) = warnings_of(second)
    assert directory_id in warning and "falls back to its bounded pass over every contact" in warning
    directory_contacts = len(sim.directory.contacts[directory_id])
    assert sim.request_counts()["GET contacts/{id}/transactions"] == directory_contacts < contacts + 1


# -- 4. distribution failures stay the distribution's -------------------------------------------------------


def history_truth(sim: Simulator) -> dict[str, set[str]]:
    """Recipients of each distribution that has a history, by distribution id."""
    return {
        d["id"]: {row["contactId"] for row in sim.directory.history(info, d["id"])}
        for info in sim.store.surveys()
        for d in sim.directory.distributions(info)
        if d["requestType"] != "TestEmail"
    }


def history_read(run: Run) -> dict[str, set[str]]:
    read: dict[str, set[str]] = {}
    for record in run.records("distribution_history"):
        read.setdefault(record["distributionId"], set()).add(record["contactId"])
    return read


def test_a_distribution_answering_its_history_like_a_test_email_costs_only_that_distribution(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=2, responses_per_survey=5)
    sim = server.sim
    truth_by_distribution = history_truth(sim)
    unreadable = sorted(truth_by_distribution)[0]
    sim.set_faults(no_history_distributions=[unreadable])
    run = connector.run(
        "read", simulator_config(server.base_url), catalog=configure(discovered, "distribution_history")
    )
    assert run.returncode == 0, run.tail()
    del truth_by_distribution[unreadable]
    assert history_read(run) == truth_by_distribution, "every other history, whole"
    (warning,) = warnings_of(run)
    assert unreadable in warning and "CP_TD_GER_NP" in warning and "has no readable history" in warning
    surveys = {entry["partition"]["survey_id"] for entry in run.states("distribution_history")[-1]["states"]}
    assert surveys == set(sim.survey_ids()), "nothing to read again: both surveys' cursors move"


def test_history_pages_that_keep_timing_out_are_read_in_smaller_pages_to_the_end(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=5, page_size=100)
    sim = server.sim
    sim.set_faults(history_timeout_page_size=60)  # Qualtrics' default page of 100 always times out
    run = connector.run(
        "read", simulator_config(server.base_url), catalog=configure(discovered, "distribution_history")
    )
    assert run.returncode == 0, run.tail()
    assert history_read(run) == history_truth(sim)
    counts = sim.request_counts()
    assert counts["504"] >= 2 and counts["GET distributions/{id}/history"] > counts["504"]
    (warning,) = [line for line in warnings_of(run) if line.startswith("distribution_history")]
    assert "50 recipients per page" in warning
