"""Distance to the datacenter: per-request latency and the cap on requests in flight per credential."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests
from qualtrics_simulator import Simulator, SimulatorConfig

from .conftest import HEADERS


def whoami(base_url: str) -> requests.Response:
    return requests.get(base_url + "/whoami", headers=HEADERS)


def test_every_api_request_waits_the_latency_and_overlapping_ones_are_counted_in_flight() -> None:
    sim = Simulator(SimulatorConfig(surveys=1, responses_per_survey=5, latency_ms=200))
    with sim.serve() as server, ThreadPoolExecutor(4) as pool:
        began = time.monotonic()
        answers = list(pool.map(whoami, [server.base_url] * 4))
        took = time.monotonic() - began
        counts = requests.get(server.root_url + "/__admin/requests").json()
    assert [answer.status_code for answer in answers] == [200] * 4
    assert took >= 0.2  # each waited the latency...
    assert counts["in_flight_max"] >= 2  # ...and they were in flight together, as the counts show


def test_requests_beyond_the_in_flight_cap_are_answered_429_with_retry_after() -> None:
    sim = Simulator(SimulatorConfig(surveys=1, responses_per_survey=5, latency_ms=300, max_in_flight=2))
    with sim.serve() as server, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(whoami, [server.base_url] * 6))
        alone = whoami(server.base_url)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(429) >= 1 and statuses.count(200) >= 2
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert alone.status_code == 200  # the cap is on requests at once, not a rate


def test_latency_and_the_cap_change_at_runtime_and_reset_counts_forgets_the_maximum() -> None:
    sim = Simulator(SimulatorConfig(surveys=1, responses_per_survey=5))
    with sim.serve() as server:
        admin = server.root_url + "/__admin"
        state = requests.post(admin + "/faults", json={"latency_ms": 50, "max_in_flight": 3}).json()
        assert state["latency_ms"] == 50.0 and state["max_in_flight"] == 3
        began = time.monotonic()
        whoami(server.base_url)
        assert time.monotonic() - began >= 0.05
        requests.post(admin + "/reset-counts")
        assert requests.get(admin + "/requests").json()["in_flight_max"] == 0
