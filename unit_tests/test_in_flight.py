"""The bound on requests in flight: lowered after a 429, back up step by step after a cool-down."""

from __future__ import annotations

import logging
import threading

import pytest
import requests_mock as rm

from source_qualtrics.client import QualtricsClient
from source_qualtrics.in_flight import InFlightLimit
from unit_tests.builders import BASE_URL, envelope


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_429_halves_the_bound_for_a_cool_down_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limit = InFlightLimit(10, clock=clock, cool_down=10)
    generation = limit.acquire()
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        limit.throttled(generation, retry_after=30)
    assert limit.limit == 5
    assert [record.getMessage() for record in caplog.records] == [
        "Qualtrics answered 429: at most 5 requests in flight (was 10) for at least 30 s"
    ]
    clock.now += 29
    assert limit.limit == 5  # the Retry-After outlasts the cool-down
    clock.now += 1
    assert limit.limit == 6
    clock.now += 10
    assert limit.limit == 7
    clock.now += 1000
    assert limit.limit == 10  # back to the setting, never above it


def test_answers_to_requests_sent_before_the_bound_was_lowered_do_not_lower_it_again() -> None:
    limit = InFlightLimit(8, clock=Clock())
    burst = [limit.acquire() for _ in range(8)]
    for generation in burst:  # eight 429s to one burst
        limit.throttled(generation, retry_after=1)
    assert limit.limit == 4
    for _ in range(8):
        limit.release()
    limit.throttled(limit.acquire(), retry_after=1)  # a 429 to a request sent at the lowered bound
    assert limit.limit == 2
    for _ in range(3):
        limit.release()
        limit.throttled(limit.acquire(), retry_after=1)
    assert limit.limit == 1  # never below one


def test_a_request_waits_for_a_place_while_the_bound_is_full() -> None:
    limit = InFlightLimit(2, clock=Clock())
    limit.acquire(), limit.acquire()
    admitted = threading.Event()

    def request() -> None:
        limit.acquire()
        admitted.set()

    waiter = threading.Thread(target=request)
    waiter.start()
    assert not admitted.wait(timeout=0.2)
    limit.release()
    assert admitted.wait(timeout=20)
    waiter.join()


def test_the_client_lowers_its_bound_on_a_429_and_retries_after_the_wait(api: rm.Mocker) -> None:
    api.get(
        f"{BASE_URL}/whoami",
        [
            {"status_code": 429, "headers": {"Retry-After": "2"}, "json": {}},
            {"json": envelope({"userName": "ana"})},
        ],
    )
    slept: list[float] = []
    client = QualtricsClient(BASE_URL, "tok", sleep=slept.append, max_concurrent_requests=6)
    assert client.get_result("whoami") == {"userName": "ana"}
    assert slept == [2.0]
    assert client.in_flight.limit == 3


def test_a_download_keeps_its_place_in_flight_until_the_body_is_read(api: rm.Mocker) -> None:
    api.get(f"{BASE_URL}/surveys/SV_1/export-responses/F1/file", content=b"x" * 1000)
    client = QualtricsClient(BASE_URL, "tok", max_concurrent_requests=1)
    other_admitted = threading.Event()

    def other_request() -> None:
        client.in_flight.acquire()
        other_admitted.set()

    other = threading.Thread(target=other_request)

    class Sink:
        admitted_while_writing: list[bool] = []

        def write(self, chunk: bytes) -> int:
            other.start()  # another request, while the only place is the download's
            self.admitted_while_writing.append(other_admitted.wait(timeout=0.2))
            return len(chunk)

    assert client.download("surveys/SV_1/export-responses/F1/file", Sink()) == 1000  # type: ignore[arg-type]
    assert Sink.admitted_while_writing == [False]
    assert other_admitted.wait(timeout=20)  # admitted once the download was done
    other.join()
