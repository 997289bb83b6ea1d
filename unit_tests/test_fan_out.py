"""`fan_out`: items read ahead in worker threads, their results handed back in input order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests_mock as rm

from source_qualtrics.client import QualtricsClient
from source_qualtrics.errors import CredentialsRejected
from source_qualtrics.fan_out import CHUNK, ITEM_CHUNKS, fan_out
from unit_tests.builders import BASE_URL, error_body


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """A liveness guard for worker threads, not a timing assertion."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_results_come_in_input_order_when_later_items_finish_first() -> None:
    gates = {item: threading.Event() for item in range(6)}

    def read(item: int) -> Iterator[str]:
        gates[item].wait(timeout=20)
        if item > 0:
            gates[item - 1].set()  # each item lets the one before it finish: completion order is reversed
        yield from (f"{item}-{page}" for page in range(3))

    gates[5].set()
    seen = [(item, list(results)) for item, results in fan_out(range(6), read, ahead=6)]
    assert seen == [(item, [f"{item}-{page}" for page in range(3)]) for item in range(6)]


def test_items_are_read_at_most_the_bound_ahead_of_the_one_being_emitted() -> None:
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for item in range(100):
            pulled.append(item)
            yield item

    out = fan_out(items(), lambda item: [item], ahead=4)
    item, results = next(out)
    assert (item, pulled) == (0, [0, 1, 2, 3, 4])  # the one emitted and four ahead
    assert list(results) == [0]
    assert next(out)[0] == 1 and pulled == [0, 1, 2, 3, 4, 5]
    out.close()


def test_an_item_failure_is_raised_at_that_items_turn_after_the_results_before_it() -> None:
    def read(item: int) -> Iterator[int]:
        yield item * 10
        if item == 2:
            raise RuntimeError("item 2 failed")
        yield item * 10 + 1

    seen: list[int] = []
    out = fan_out(range(5), read, ahead=3)
    for _ in range(2):
        seen.extend(next(out)[1])
    item, results = next(out)
    with pytest.raises(RuntimeError, match="item 2 failed"):
        for value in results:
            seen.append(value)
    assert (item, seen) == (2, [0, 1, 10, 11, 20])
    assert [(item, list(rest)) for item, rest in out] == [(3, [30, 31]), (4, [40, 41])]  # the stream goes on


def test_a_failure_listing_the_items_comes_after_the_items_listed_before_it() -> None:
    def items() -> Iterator[int]:
        yield from (0, 1)
        raise PermissionError("the list is forbidden")

    out = fan_out(items(), lambda item: [item], ahead=5)
    assert [list(next(out)[1]) for _ in range(2)] == [[0], [1]]
    with pytest.raises(PermissionError):
        next(out)


def test_one_items_buffer_is_bounded_while_the_stream_is_slow() -> None:
    produced = 0

    def read(item: int) -> Iterator[int]:
        nonlocal produced
        for value in range(20 * CHUNK * ITEM_CHUNKS):
            produced += 1
            yield value

    consumed = 0
    for _, results in fan_out([0], read, ahead=2):
        for _ in results:
            consumed += 1
            assert produced - consumed <= CHUNK * (ITEM_CHUNKS + 1)
    assert consumed == 20 * CHUNK * ITEM_CHUNKS


def test_closing_early_stops_every_read_in_progress_and_starts_no_more() -> None:
    started: list[int] = []
    stopped: list[int] = []
    lock = threading.Lock()

    def read(item: int) -> Iterator[int]:
        with lock:
            started.append(item)
        try:
            value = 0
            while True:  # endless: only a cancellation ends it
                value += 1
                yield value
        finally:
            with lock:
                stopped.append(item)

    out = fan_out(range(1000), read, ahead=3)
    _, results = next(out)
    assert next(results) == 1
    wait_until(lambda: len(started) == 3, "three reads started")
    out.close()
    wait_until(lambda: sorted(stopped) == sorted(started), "every started read stopped")
    assert len(started) <= 4  # the one emitted and three ahead (three workers): nothing else started


def test_an_item_left_unread_is_cancelled_when_the_stream_moves_on() -> None:
    stopped = threading.Event()

    def read(item: int) -> Iterator[int]:
        try:
            yield from range(100 * CHUNK * ITEM_CHUNKS) if item == 0 else [item]
        finally:
            if item == 0:
                stopped.set()

    out = fan_out(range(3), read, ahead=2)
    next(out)  # item 0's results are never read
    assert [(item, list(results)) for item, results in out] == [(1, [1]), (2, [2])]
    wait_until(stopped.is_set, "the skipped item's read stopped")


def test_a_refused_credential_stops_every_read_after_the_ones_already_in_flight(api: rm.Mocker) -> None:
    refused = api.get(
        rm.ANY, status_code=401, json=error_body("401 - Unauthorized", "AUTH_1", "Invalid token")
    )
    client = QualtricsClient(BASE_URL, "dead-token", max_concurrent_requests=4)
    out = fan_out(range(200), lambda item: [client.get_result(f"surveys/SV_{item}")], ahead=4)
    _, results = next(out)
    with pytest.raises(CredentialsRejected):
        list(results)
    for _, rest in out:  # every later item fails at once, without a request
        with pytest.raises(CredentialsRejected):
            list(rest)
    assert refused.call_count <= 5  # only those sent before the first refusal came back
