"""The installed CLI on a simulator at a distance: every stream that fans out keeps requests in flight.

The simulator waits 50 ms before each answer, as a far datacenter would. Requests then overlap (never
more than `max_concurrent_requests`), the sync makes as many requests as one that reads one item at a
time, and every record arrives exactly once; a kill in the middle of a fan-out loses nothing; and a
cap on requests in flight answered with 429 lowers the connector's concurrency instead of failing it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from testkit import EXPORT_FED_STREAMS, Connector, Run, configure, simulator_config
from testkit.interrupted import run_live

IN_FLIGHT = 4
LATENCY_MS = 50


@pytest.fixture
def distant_brand() -> Iterator[ServerHandle]:
    sim = Simulator(SimulatorConfig(seed=21, surveys=5, responses_per_survey=5, page_size=4))
    with sim.serve() as server:
        yield server


def fan_out_streams(discovered: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Every stream but the response exports, with its primary key."""
    return {
        stream["name"]: stream["source_defined_primary_key"]
        for stream in discovered["streams"]
        if stream["name"] not in EXPORT_FED_STREAMS
    }


def record_keys(records: list[dict[str, Any]], primary_key: list[list[str]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(record.get(path[0]) for path in primary_key) for record in records)


def api_requests(counts: dict[str, int]) -> int:
    return sum(value for name, value in counts.items() if name[:4] in ("GET ", "POST"))


def sync(
    connector: Connector, server: ServerHandle, catalog: dict[str, Any], state: Any = None, **settings: Any
) -> tuple[Run, dict[str, int]]:
    server.sim.reset_counts()
    config = simulator_config(server.base_url, **{"max_concurrent_requests": IN_FLIGHT, **settings})
    run = connector.run("read", config, catalog=catalog, state=state)
    assert run.returncode == 0, run.tail()
    return run, server.sim.request_counts()


def test_requests_overlap_within_the_setting_and_every_record_arrives_once(
    distant_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    streams = fan_out_streams(discovered)
    catalog = configure(discovered, *streams)
    one_at_a_time, near_counts = sync(connector, distant_brand, catalog, max_concurrent_requests=1)
    assert near_counts["in_flight_max"] == 1

    distant_brand.sim.set_faults(latency_ms=LATENCY_MS)
    distant, far_counts = sync(connector, distant_brand, catalog)

    assert 1 < far_counts["in_flight_max"] <= IN_FLIGHT
    assert abs(api_requests(far_counts) - api_requests(near_counts)) <= 0.05 * api_requests(near_counts)
    for name, primary_key in streams.items():
        expected = record_keys(one_at_a_time.records(name), primary_key)
        received = record_keys(distant.records(name), primary_key)
        assert received == expected, name
        assert all(count == 1 for count in received.values()), f"{name}: a record came twice"
    assert all(one_at_a_time.records(name) for name in ("distribution_history", "directory_contacts"))


def test_a_kill_in_the_middle_of_a_fan_out_and_a_resume_lose_nothing(
    distant_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    streams = ("distributions", "distribution_history", "survey_questions", "survey_versions")
    catalog = configure(discovered, *streams)
    whole, _ = sync(connector, distant_brand, catalog)

    distant_brand.sim.set_faults(latency_ms=LATENCY_MS)
    config = simulator_config(distant_brand.base_url, max_concurrent_requests=IN_FLIGHT)
    args = connector.args("read", config, catalog)

    def after_the_first_history_checkpoint(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        state = message.get("state", {}).get("stream", {})
        return state.get("stream_descriptor", {}).get("name") == "distribution_history"

    killed = run_live(args, kill_when=after_the_first_history_checkpoint, timeout=300)
    assert killed.killed
    assert killed.records("distribution_history"), "the kill came after some histories"
    resumed = run_live(connector.args("read", config, catalog, killed.latest_states()), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    keys = fan_out_streams(discovered)
    for name in streams:
        expected = set(record_keys(whole.records(name), keys[name]))
        received = set(record_keys(killed.records(name) + resumed.records(name), keys[name]))
        assert received == expected, name


def test_a_cap_on_requests_in_flight_is_survived_at_a_lower_concurrency(
    distant_brand: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    streams = ("directory_contacts", "mailing_list_contacts", "distribution_history", "survey_versions")
    catalog = configure(discovered, *streams, sync_mode="full_refresh")
    uncapped, _ = sync(connector, distant_brand, catalog)

    distant_brand.sim.set_faults(latency_ms=LATENCY_MS, max_in_flight=2)
    capped, counts = sync(connector, distant_brand, catalog, max_concurrent_requests=8)

    assert sum(value for name, value in counts.items() if name.startswith("429")) > 0
    lowered = [
        m["log"]["message"]
        for m in capped.of_type("LOG")
        if m["log"]["message"].startswith("Qualtrics answered 429: at most")
    ]
    assert lowered and "at most 4 requests in flight (was 8)" in lowered[0]
    keys = fan_out_streams(discovered)
    for name in streams:
        expected = record_keys(uncapped.records(name), keys[name])
        assert record_keys(capped.records(name), keys[name]) == expected, name
