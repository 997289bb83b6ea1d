"""The installed CLI against the simulator: survey structure, versions, divisions and transactions.

Pages are 4 elements long, so directory collections are read over several `skipToken` pages. The
definition-fed streams must cost one definition read per survey together, and none on a second
incremental sync when no survey changed.
"""

from __future__ import annotations

from typing import Any

from qualtrics_simulator import ServerHandle
from qualtrics_simulator.data import survey_definition
from qualtrics_simulator.directory import directory_of
from qualtrics_simulator.structure import versions

from integration_tests.test_directory_end_to_end import paged_simulator, warnings
from testkit import Connector, configure, simulator_config

__all__ = ["paged_simulator"]  # the fixture, shared with the directory end-to-end tests

STRUCTURE = ("survey_questions", "survey_blocks", "block_questions", "question_options", "sub_questions")
LISTED = (
    "survey_versions",
    "divisions",
    "transaction_batches",
    "transaction_batch_members",
    "contact_transactions",
)
DEFINITION_READS = "GET survey-definitions/{id}"


def test_structure_streams_share_one_definition_read_and_match_the_definitions(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = paged_simulator.sim
    config = simulator_config(paged_simulator.base_url)
    catalog = configure(discovered, *STRUCTURE, sync_mode="incremental")
    sim.reset_counts()
    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert not warnings(first), warnings(first)
    assert sim.request_counts()[DEFINITION_READS] == len(sim.survey_ids())

    definitions = {info.id: survey_definition(info) for info in sim.store.surveys()}
    assert sorted((r["surveyId"], r["blockId"]) for r in first.records("survey_blocks")) == sorted(
        (sid, block_id) for sid, d in definitions.items() for block_id in d["Blocks"]
    )
    assert sorted((r["surveyId"], r["questionId"]) for r in first.records("block_questions")) == sorted(
        (sid, e["QuestionID"])
        for sid, d in definitions.items()
        for b in d["Blocks"].values()
        for e in b["BlockElements"]
    )
    expected_options = sorted(
        (sid, qid, key, choice["Display"])
        for sid, d in definitions.items()
        for qid, q in d["Questions"].items()
        for key, choice in (q["Answers"] if q["QuestionType"] == "Matrix" else q.get("Choices", {})).items()
    )
    received_options = sorted(
        (r["surveyId"], r["questionId"], r["key"], r["text"]) for r in first.records("question_options")
    )
    assert received_options == expected_options
    assert sorted(
        (r["surveyId"], r["questionId"], r["text"]) for r in first.records("sub_questions")
    ) == sorted(
        (sid, qid, row["Display"])
        for sid, d in definitions.items()
        for qid, q in d["Questions"].items()
        if q["QuestionType"] == "Matrix"
        for row in q["Choices"].values()
    )

    sim.reset_counts()
    second = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert second.returncode == 0, second.stderr[-2000:]
    assert all(second.records(name) == [] for name in STRUCTURE), "unchanged surveys are not read again"
    assert sim.request_counts().get(DEFINITION_READS, 0) == 0


def test_versions_divisions_and_transactions_return_exactly_the_simulators_records(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = paged_simulator.sim
    truth = directory_of(sim.store)
    catalog = configure(discovered, *LISTED, sync_mode="full_refresh")
    run = connector.run("read", simulator_config(paged_simulator.base_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    (warning,) = warnings(run)  # the simulator, like Qualtrics' reference, has no division list
    assert "GET /divisions answered HTTP 404" in warning and "a division no user belongs to" in warning

    assert sorted(
        (r["surveyId"], r["versionNumber"], r["published"]) for r in run.records("survey_versions")
    ) == sorted(
        (info.id, v["versionNumber"], v["published"]) for info in sim.store.surveys() for v in versions(info)
    )
    # without a division list, the users' division is read by id
    assert [(r["id"], r["status"]) for r in run.records("divisions")] == [(truth.division_id, "Active")]
    transactions = run.records("contact_transactions")
    assert transactions and all(r["data"]["currency"] == "USD" for r in transactions)
    assert len({r["transactionId"] for r in transactions}) == len(transactions)
    members = run.records("transaction_batch_members")
    assert sorted(r["transactionId"] for r in members) == sorted(r["transactionId"] for r in transactions)
    batches = {(r["directoryId"], r["batchId"]) for r in run.records("transaction_batches")}
    assert {(r["directoryId"], r["batchId"]) for r in members} <= batches
    assert len(batches) == 2 * len(truth.directories)


def test_forbidden_new_streams_warn_with_their_scope_and_the_sync_succeeds(
    paged_simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    paged_simulator.sim.set_faults(
        forbidden_paths=[
            "/divisions/*",
            "/directories/*/transactionbatches",
            "/survey-definitions/*/versions",
        ]
    )
    streams = ("divisions", "transaction_batches", "survey_versions", "surveys")
    run = connector.run(
        "read",
        simulator_config(paged_simulator.base_url),
        catalog=configure(discovered, *streams, sync_mode="full_refresh"),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found = warnings(run)
    for scope in ("read:divisions", "read:contact_transactions", "read:surveys"):
        assert sum(scope in w for w in found) == 1, found
    assert run.records("surveys")
