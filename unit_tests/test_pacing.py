from __future__ import annotations

import pytest

from source_qualtrics.pacing import (
    DISTRIBUTION_HISTORY,
    EVENT_SUBSCRIPTIONS,
    EXPORT_FILE,
    EXPORT_PROGRESS,
    EXPORT_START,
    OTHER,
    RequestPacer,
    endpoint_kind,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/API/v3/surveys/SV_1/export-responses", EXPORT_START),
        ("POST", "/API/v3/surveys/SV_1/export-responses/", EXPORT_START),
        ("GET", "/API/v3/surveys/SV_1/export-responses/ES_abc", EXPORT_PROGRESS),
        ("GET", "/API/v3/surveys/SV_1/export-responses/1234-def/file", EXPORT_FILE),
        ("GET", "/API/v3/surveys", OTHER),
        ("GET", "/API/v3/whoami", OTHER),
        ("GET", "/API/v3/distributions/EMD_1/history", DISTRIBUTION_HISTORY),
        ("GET", "/API/v3/eventsubscriptions", EVENT_SUBSCRIPTIONS),
    ],
)
def test_requests_are_sorted_into_qualtrics_rate_limit_buckets(method: str, path: str, kind: str) -> None:
    assert endpoint_kind(method, path) == kind


def test_export_starts_stay_under_their_per_minute_limit() -> None:
    clock = FakeClock()
    pacer = RequestPacer(requests_per_minute=3000, clock=clock, sleep=clock.sleep)
    for _ in range(300):
        pacer.wait(EXPORT_START)
    # 300 starts at 96/minute need a little under 187.5 s after the initial burst; never as fast as
    # Qualtrics' 100/minute, which would take 180 s.
    assert 180 < clock.now <= 187.5


def test_the_connector_wide_budget_caps_every_endpoint_together() -> None:
    clock = FakeClock()
    pacer = RequestPacer(requests_per_minute=600, clock=clock, sleep=clock.sleep)
    for _ in range(630):
        pacer.wait(OTHER)
    assert 55 <= clock.now <= 61


def test_a_quiet_connector_does_not_wait() -> None:
    clock = FakeClock()
    pacer = RequestPacer(clock=clock, sleep=clock.sleep)
    assert sum(pacer.wait(OTHER) for _ in range(5)) == 0.0
