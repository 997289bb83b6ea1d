from __future__ import annotations

import threading
from collections.abc import Callable

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


class ThreadedClock:
    """Virtual time shared by threads: a sleep moves time forward to the sleeper's wake-up, never back."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def run_in_threads(count: int, work: Callable[[], object]) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def test_the_connector_wide_budget_holds_for_requests_from_many_threads() -> None:
    clock = ThreadedClock()
    pacer = RequestPacer(requests_per_minute=600, clock=clock, sleep=clock.sleep)
    run_in_threads(6, lambda: [pacer.wait(OTHER) for _ in range(105)])
    # 630 requests at 600/minute after a burst of 30: never sooner than 60 s of virtual time
    assert clock() >= 60 - 1e-6


def test_export_starts_keep_their_budget_while_other_threads_send_other_requests() -> None:
    clock = ThreadedClock()
    pacer = RequestPacer(requests_per_minute=3000, clock=clock, sleep=clock.sleep)
    starts_done: list[float] = []

    def start_exports() -> None:
        for _ in range(50):
            pacer.wait(EXPORT_START)
        starts_done.append(clock())

    threads = [threading.Thread(target=start_exports) for _ in range(6)]
    threads += [threading.Thread(target=lambda: [pacer.wait(OTHER) for _ in range(300)]) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # 300 export starts at 96/minute after the initial burst of 4.8: at least 184.5 s
    assert max(starts_done) >= (300 - 4.8) / 96 * 60 - 1e-6


def test_a_thread_waiting_for_an_export_start_token_does_not_hold_up_other_requests() -> None:
    clock = FakeClock()
    released = threading.Event()

    def sleep(seconds: float) -> None:  # the export thread sleeps until the test lets it go
        released.wait(timeout=30)
        clock.sleep(seconds)

    pacer = RequestPacer(clock=clock, sleep=sleep)
    for _ in range(4):  # the export-start bucket holds 4.8 tokens: the fifth start must wait
        pacer.wait(EXPORT_START)
    exporter = threading.Thread(target=pacer.wait, args=(EXPORT_START,))
    exporter.start()
    other_done = threading.Event()

    def other_request() -> None:
        pacer.wait(OTHER)
        other_done.set()

    other = threading.Thread(target=other_request)
    other.start()
    other.join(timeout=10)
    finished_while_export_waits = other_done.is_set()
    released.set()
    exporter.join(timeout=10)
    other.join(timeout=10)
    assert finished_while_export_waits
    assert not exporter.is_alive()
