"""The completeness check end to end: the installed CLI against the simulator, Qualtrics' counts against
what arrived, per survey, in `survey_response_counts` and as one warning per incomplete survey."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.routes import EXPORT_START

from testkit import Connector, configure, simulator_config
from testkit.connector import Run

INCOMPLETE = "may be incomplete"


@pytest.fixture
def brand() -> Iterator[ServerHandle]:
    """3 surveys of 300 responses, 20 of them generated test/preview responses, and 3 in progress."""
    config = SimulatorConfig(seed=26, surveys=3, responses_per_survey=300, generated_per_survey=20)
    with Simulator(config).serve() as server:
        yield server


def sync(connector: Connector, server: ServerHandle, discovered: dict[str, Any], state: Any = None) -> Run:
    catalog = configure(discovered, "survey_response_counts", "responses")  # counts listed first on purpose
    run = connector.run("read", simulator_config(server.base_url), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def warnings(run: Run) -> list[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def counts_by_survey(run: Run) -> dict[str, dict[str, Any]]:
    records = run.records("survey_response_counts")
    by_survey = {record["surveyId"]: record for record in records}
    assert len(by_survey) == len(records), "one record per survey per sync"
    return by_survey


def emitted_by_survey(run: Run) -> dict[str, int]:
    emitted: dict[str, int] = {}
    for record in run.records("responses"):
        emitted[record["surveyId"]] = emitted.get(record["surveyId"], 0) + 1
    return emitted


def test_a_healthy_first_and_incremental_sync_report_the_counts_without_shortfall(
    brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand.sim
    first = sync(connector, brand, discovered)
    counts = counts_by_survey(first)
    assert set(counts) == set(sim.survey_ids())
    emitted = emitted_by_survey(first)
    for survey_id, record in counts.items():
        assert (record["auditable"], record["generated"], record["deleted"]) == (280, 20, 0)
        assert record["check"] == "full_export"
        assert record["exportedThisSync"] == emitted[survey_id] == 300  # test responses are exported
        assert (record["expected"], record["shortfall"]) == (300, 0)
        assert record["exportedThrough"] is not None
    assert not any(INCOMPLETE in message for message in warnings(first))

    changed = sim.survey_ids()[0]
    sim.add_responses(changed, 5)
    sim.edit_responses(changed, 3)
    second = sync(connector, brand, discovered, state=first.latest_states())
    counts = counts_by_survey(second)
    assert counts[changed]["auditable"] == 285
    assert counts[changed]["exportedThisSync"] == 8
    for record in counts.values():
        assert record["check"] == "changes" and record["shortfall"] == 0
    assert not any(INCOMPLETE in message for message in warnings(second))
    assert [record["readAt"] for record in second.records("survey_response_counts")] != [
        record["readAt"] for record in first.records("survey_response_counts")
    ], "each sync appends its own records"


def test_responses_silently_dropped_from_an_export_are_one_warning_and_the_shortfall(
    brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand.sim
    victim, other, _ = sim.survey_ids()
    sim.set_faults(drop_responses={victim: 3})
    first = sync(connector, brand, discovered)
    incomplete = [message for message in warnings(first) if INCOMPLETE in message]
    assert len(incomplete) == 1, incomplete
    assert victim in incomplete[0] and "at least 300" in incomplete[0] and "297 arrived" in incomplete[0]
    counts = counts_by_survey(first)
    assert counts[victim]["shortfall"] == 3 and counts[victim]["exportedThisSync"] == 297
    assert all(counts[sid]["shortfall"] == 0 for sid in counts if sid != victim)

    # the next changes export loses 2 of the 6 new responses of another survey: caught as well
    sim.add_responses(other, 6)
    sim.set_faults(drop_responses={other: 2})
    second = sync(connector, brand, discovered, state=first.latest_states())
    incomplete = [message for message in warnings(second) if INCOMPLETE in message]
    assert len(incomplete) == 1 and other in incomplete[0], incomplete
    counts = counts_by_survey(second)
    assert counts[other]["shortfall"] == 2 and counts[other]["exportedThisSync"] == 4
    assert counts[victim]["shortfall"] == 0, "a loss is reported once, not again at every sync"


def mutate_during_the_sync(server: ServerHandle, change: Callable[[], None]) -> threading.Thread:
    """Run `change` once the connector has started its first export, after it read the counts the
    check starts from and before the export Qualtrics then builds: the first export of each survey
    fails (as Qualtrics' exports sometimes do), and the one that replaces it sees the change."""
    server.sim.reset_counts()
    server.sim.set_faults(fail_exports=len(server.sim.survey_ids()))

    def wait_then_change() -> None:
        for _ in range(600):
            if server.sim.request_counts().get(EXPORT_START, 0) > 0:
                break
            threading.Event().wait(0.05)
        change()

    thread = threading.Thread(target=wait_then_change, daemon=True)
    thread.start()
    return thread


def test_edits_deletions_and_test_responses_during_a_sync_raise_no_false_alarm(
    brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    sim = brand.sim
    surveys = sim.survey_ids()

    def churn() -> None:
        for survey_id in surveys:
            ids = list(sim.response_ids(survey_id))
            sim.delete_responses(survey_id, ids[:4])
            sim.edit_responses(survey_id, ids[10:15])
            sim.add_responses(survey_id, 3)

    thread = mutate_during_the_sync(brand, churn)
    first = sync(connector, brand, discovered)
    thread.join()
    assert not any(INCOMPLETE in message for message in warnings(first))
    assert all(record["shortfall"] == 0 for record in counts_by_survey(first).values())

    thread = mutate_during_the_sync(brand, churn)
    second = sync(connector, brand, discovered, state=first.latest_states())
    thread.join()
    assert not any(INCOMPLETE in message for message in warnings(second))
    counts = counts_by_survey(second)
    assert all(record["check"] == "changes" and record["shortfall"] == 0 for record in counts.values())
    assert all(record["deleted"] == 8 for record in counts.values())


DOCS = Path(__file__).resolve().parent.parent / "docs" / "qualtrics.md"
DOCS_QUERY_TITLE = "-- Surveys whose warehouse disagrees with Qualtrics' counts"


def docs_query() -> str:
    text = DOCS.read_text()
    start = text.index(DOCS_QUERY_TITLE)
    return text[start : text.index("```", start)]


class Warehouse:
    """The three tables the docs query reads, appended to after each sync as a destination would."""

    COLUMNS = {
        "responses": "surveyId VARCHAR, responseId VARCHAR, recordedDate TIMESTAMPTZ",
        "response_ids": "surveyId VARCHAR, responseId VARCHAR, recordedDate TIMESTAMPTZ, "
        "snapshotAt TIMESTAMPTZ",
        "survey_response_counts": "surveyId VARCHAR, readAt TIMESTAMPTZ, auditable BIGINT, generated BIGINT, "
        "deleted BIGINT, shortfall BIGINT",
    }

    def __init__(self, duckdb: Any) -> None:
        self.db = duckdb.connect()
        for table, columns in self.COLUMNS.items():
            self.db.execute(f"CREATE TABLE {table} ({columns})")

    def load(self, run: Run) -> None:
        for table, columns in self.COLUMNS.items():
            names = [column.split()[0] for column in columns.split(", ")]
            rows = [[record.get(name) for name in names] for record in run.records(table)]
            if rows:
                marks = ", ".join("?" for _ in names)
                self.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def disagreeing(self) -> list[tuple[Any, ...]]:
        return self.db.execute(f"SELECT surveyId, missing, likely_cause FROM ({docs_query()})").fetchall()


def test_the_docs_query_finds_the_survey_that_lost_responses_and_nothing_after_a_healthy_sync(
    brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (make demo installs it)")
    sim = brand.sim
    victim = sim.survey_ids()[1]
    catalog = configure(discovered, "responses", "response_ids", "survey_response_counts")
    config = simulator_config(brand.base_url)
    warehouse = Warehouse(duckdb)

    healthy = connector.run("read", config, catalog=catalog)
    assert healthy.returncode == 0, healthy.stderr[-3000:]
    warehouse.load(healthy)
    assert warehouse.disagreeing() == []

    deleted = list(sim.response_ids(victim))[:2]
    sim.delete_responses(victim, deleted)  # response_ids sees them: not a disagreement
    sim.add_responses(victim, 7)
    sim.set_faults(drop_responses={victim: 4})
    lossy = connector.run("read", config, catalog=catalog, state=healthy.latest_states())
    assert lossy.returncode == 0, lossy.stderr[-3000:]
    warehouse.load(lossy)
    ((survey_id, missing, cause),) = warehouse.disagreeing()
    assert (survey_id, missing) == (victim, 4)
    assert "reported a shortfall" in cause
