"""What no public Qualtrics document promises, end to end: the installed CLI against a simulator that
answers the way the real service could where the documents are silent. Each misbehaviour costs a
warning (or a debug line), never a response."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from integration_tests.test_big_surveys import logs, partitions, truth
from integration_tests.test_end_to_end import keys
from testkit import Connector, configure, simulator_config


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerHandle]]:
    handles: list[ServerHandle] = []

    def start(**settings: Any) -> ServerHandle:
        handle = Simulator(SimulatorConfig(**{"seed": 25, "export_seconds": 0.1, **settings})).serve()
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


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
    assert set(received) == truth(server), "every response arrives (some twice: same responseId)"
    (warning,) = [
        line for line in logs(run.messages, "WARN") if "Qualtrics counts" in line or "broke" in line
    ]
    assert big in warning and other not in warning
    assert "twice" in warning, "the warning says what the fallback costs: repeats, not losses"
    cursor = partitions(run.states("responses")[-1])[big]
    assert "backfill" not in cursor and cursor.get("continuationToken"), "the next sync asks for changes"
