"""The bench's pacing bound (`bench.bound`): the connector's budgets applied to the simulator's counts."""

from __future__ import annotations

import pytest
from qualtrics_simulator.routes import EXPORT_FILE, EXPORT_POLL, EXPORT_START, EXPORTS_STARTED

from bench.bound import ALL_REQUESTS, pacing_bound, pacing_kind_of_route
from source_qualtrics import pacing
from source_qualtrics.pacing import DEFAULT_REQUESTS_PER_MINUTE, ENDPOINT_LIMITS_PER_MINUTE

HISTORY = "GET distributions/{id}/history"
SURVEY = "GET surveys/{id}"


def test_each_simulator_route_falls_in_the_connectors_bucket() -> None:
    kinds = pacing_kind_of_route()
    assert kinds[EXPORT_START] == pacing.EXPORT_START
    assert kinds[EXPORT_POLL] == pacing.EXPORT_PROGRESS
    assert kinds[EXPORT_FILE] == pacing.EXPORT_FILE
    assert kinds[HISTORY] == pacing.DISTRIBUTION_HISTORY
    assert kinds["GET eventsubscriptions"] == pacing.EVENT_SUBSCRIPTIONS
    assert kinds[SURVEY] == kinds["GET surveys"] == pacing.OTHER


def test_many_cheap_requests_are_bound_by_the_brand_budget() -> None:
    bound = pacing_bound({SURVEY: 2000, "GET surveys": 20})
    assert bound.binding == ALL_REQUESTS
    assert bound.requests == 2020
    assert bound.seconds == pytest.approx(2020 / DEFAULT_REQUESTS_PER_MINUTE * 60)


def test_export_starts_bind_a_first_sync_of_small_surveys() -> None:
    bound = pacing_bound({EXPORT_START: 500, EXPORT_POLL: 500, EXPORT_FILE: 500, "GET surveys": 5})
    assert bound.binding == pacing.EXPORT_START
    assert bound.seconds == pytest.approx(500 / ENDPOINT_LIMITS_PER_MINUTE[pacing.EXPORT_START] * 60)
    assert bound.by_kind == {
        pacing.EXPORT_START: 500,
        pacing.EXPORT_PROGRESS: 500,
        pacing.EXPORT_FILE: 500,
        pacing.OTHER: 5,
    }


def test_history_binds_when_its_share_outweighs_the_brand_budget() -> None:
    # The enterprise nightly sync's mix: history requests are 28% of all, their budget 27% of the brand's.
    bound = pacing_bound({HISTORY: 2544, "GET distributions": 6570})
    history_seconds = 2544 / ENDPOINT_LIMITS_PER_MINUTE[pacing.DISTRIBUTION_HISTORY] * 60
    assert bound.binding == pacing.DISTRIBUTION_HISTORY
    assert bound.seconds == pytest.approx(history_seconds)
    assert bound.seconds > 9114 / DEFAULT_REQUESTS_PER_MINUTE * 60


def test_only_requests_count_not_statuses_throttles_or_events() -> None:
    counts = {
        SURVEY: 100,
        "200": 98,
        "429": 2,
        f"429 {SURVEY}": 2,
        "in_flight_max": 7,
        EXPORTS_STARTED: 3,
        "unknown": 4,
    }
    bound = pacing_bound(counts)
    assert bound.requests == 100
    assert bound.by_kind == {pacing.OTHER: 100}


def test_the_budgets_given_set_the_bound() -> None:
    slower = {**ENDPOINT_LIMITS_PER_MINUTE, pacing.EXPORT_START: 10.0}
    bound = pacing_bound({EXPORT_START: 50}, requests_per_minute=500, endpoint_limits=slower)
    assert bound.seconds == pytest.approx(300.0)


def test_no_requests_no_time() -> None:
    bound = pacing_bound({"200": 0, "in_flight_max": 0})
    assert (bound.seconds, bound.requests) == (0.0, 0)
