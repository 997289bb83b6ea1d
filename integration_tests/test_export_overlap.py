"""The export flow on a distant Qualtrics: starts, polls, downloads and survey reads overlap.

The installed CLI against the in-process simulator with a per-request latency, checked against the
simulator's own counts: requests were in flight together (never more than the setting), the sync made
the requests an unlatencied one makes, and every response arrived exactly once, also across a kill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from integration_tests.test_big_surveys import partitions, truth
from integration_tests.test_end_to_end import keys
from integration_tests.test_many_surveys import state_bytes
from testkit import Connector, configure, simulator_config
from testkit.interrupted import run_live

SURVEYS = 40
LATENCY_MS = 50.0
CONCURRENT_REQUESTS = 6


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerHandle]]:
    handles: list[ServerHandle] = []

    def start(**settings: Any) -> ServerHandle:
        config = {"seed": 23, "surveys": SURVEYS, "responses_per_survey": 3, "export_seconds": 0.05}
        handle = Simulator(SimulatorConfig(**{**config, **settings})).serve()
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


def requests_made(counts: dict[str, int]) -> int:
    """Every API request the simulator answered, whatever its status."""
    return sum(count for key, count in counts.items() if key.isdigit())


@pytest.mark.parametrize("rate_limits", [False, True], ids=["no-limits", "rate-limits"])
def test_a_first_sync_of_many_small_surveys_overlaps_its_requests_without_making_more(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any], rate_limits: bool
) -> None:
    catalog = configure(discovered, "responses")
    counts: dict[float, dict[str, int]] = {}
    for latency in (0.0, LATENCY_MS):
        server = serve(latency_ms=latency, rate_limits=rate_limits)
        config = simulator_config(server.base_url, max_concurrent_requests=CONCURRENT_REQUESTS)
        run = connector.run("read", config, catalog=catalog)
        assert run.returncode == 0, run.tail()
        received = keys(run.records("responses"))
        assert len(received) == len(set(received)) == 3 * SURVEYS, "every response exactly once"
        assert set(received) == truth(server)
        counts[latency] = server.sim.request_counts()
    near = counts[LATENCY_MS]
    assert 1 < near["in_flight_max"] <= CONCURRENT_REQUESTS, near
    assert near["export jobs started"] == counts[0.0]["export jobs started"] == SURVEYS
    made, unlatencied = requests_made(near), requests_made(counts[0.0])
    assert abs(made - unlatencied) <= 0.05 * unlatencied, (made, unlatencied)


def test_a_sync_with_overlapping_requests_killed_midway_resumes_losing_nothing(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    """Exports finish out of planned order and several are in flight at the kill: the last STATE covers
    only surveys whose records were all emitted, so the resumed sync brings the rest."""
    server = serve(latency_ms=LATENCY_MS)
    config = simulator_config(server.base_url, max_concurrent_requests=CONCURRENT_REQUESTS)
    catalog = configure(discovered, "responses")

    def after_second_state(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        return message.get("type") == "STATE" and len(state_bytes(seen)) >= 2

    first = run_live(connector.args("read", config, catalog=catalog), after_second_state)
    assert first.killed
    state = first.latest_states()[0]["stream"]["stream_state"]
    checkpointed = partitions(state)
    assert 0 < len(checkpointed) < SURVEYS
    emitted_before = keys(first.records("responses"))
    by_survey: dict[str, int] = {}
    for survey_id, _ in emitted_before:
        by_survey[survey_id] = by_survey.get(survey_id, 0) + 1
    assert all(by_survey.get(survey_id) == 3 for survey_id in checkpointed), (
        "the STATE covers only surveys whose records were all emitted"
    )

    resumed = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert resumed.returncode == 0, resumed.tail()
    after = keys(resumed.records("responses"))
    assert set(emitted_before) | set(after) == truth(server), "nothing lost"
    assert not {key for key in after if key[0] in checkpointed}, "no checkpointed survey exported again"
    share = -(-SURVEYS // 8)
    assert len(set(emitted_before) & set(after)) <= 3 * (share + 4), "at most a share and those in flight"


def test_an_incremental_sync_skipping_unchanged_surveys_reads_each_survey_once_with_overlap(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    """The skip option's count reads run ahead on the workers: one per survey (and the completeness
    check's second one per exported survey), and only the changed surveys exported."""
    server = serve(latency_ms=LATENCY_MS)
    config = simulator_config(
        server.base_url, max_concurrent_requests=CONCURRENT_REQUESTS, skip_unchanged_surveys=True
    )
    catalog = configure(discovered, "responses")
    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.tail()
    changed = server.sim.touch_surveys(fraction=0.1)
    server.sim.reset_counts()

    again = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert again.returncode == 0, again.tail()
    added = {(survey_id, rid) for survey_id, change in changed.items() for rid in change["added"]}
    assert set(keys(again.records("responses"))) == added
    counts = server.sim.request_counts()
    # each survey's counts read once ahead, and once more after the export of each changed survey (the
    # second bound of its completeness check)
    assert counts["GET surveys/{id}"] == SURVEYS + len(changed)
    assert counts["export jobs started"] == len(changed)
    assert 1 < counts["in_flight_max"] <= CONCURRENT_REQUESTS
