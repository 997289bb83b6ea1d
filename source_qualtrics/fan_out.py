"""Reads of many items (surveys, distributions, lists, contacts) overlapped, their results in input order.

On a real network each request waits a round trip; one at a time, a sync is bound by latency, not by
Qualtrics' budgets. `fan_out` reads the next few items in worker threads while the stream emits the
current one, and hands each item's results back in input order, so a stream's per-item logic (its
cursor, its checkpoint, its 403 warning) runs on the stream's own thread exactly as in a plain loop:

- at most `ahead` items are read ahead of the one being emitted, each through a bounded buffer (a
  worker waits when its item's buffer is full), so memory stays bounded whatever an item's size;
- an item's failure is raised when the stream reaches that item's results, after the ones before it;
- nothing is read that a plain loop would not read: closing the generator (the stream stopped, or
  failed) cancels what is queued, and a worker stops at its next result;
- a credential Qualtrics refused stops every worker, since the client refuses every later request.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: results handed over at once (one lock round per chunk, not per record)
CHUNK = 50
#: chunks one fan-out may hold for its items ahead (about 10,000 records)...
BUFFERED_CHUNKS = 200
#: ...and for one item: ten pages of a list (whose pages can only be read one after another)
ITEM_CHUNKS = 20


class _Reading(Generic[T, R]):
    """One item's read in a worker thread, its results passed on through a bounded buffer."""

    def __init__(self, item: T, capacity: int) -> None:
        self.item = item
        self._capacity = capacity  # chunks
        self._condition = threading.Condition()
        self._chunks: deque[list[R]] = deque()
        self._error: BaseException | None = None
        self._done = False
        self._cancelled = False

    def run(self, read: Callable[[T], Iterable[R]]) -> None:
        """The worker's part: read the item, pass its results on, stop when cancelled."""
        chunk: list[R] = []
        error: BaseException | None = None
        try:
            if self._cancelled:
                return
            for result in read(self.item):
                chunk.append(result)
                if len(chunk) >= CHUNK:
                    if not self._hand_over(chunk):
                        return
                    chunk = []
        except BaseException as failure:  # handed to the stream's thread, raised at this item's turn
            error = failure
        with self._condition:
            if chunk:
                self._chunks.append(chunk)
            self._error, self._done = error, True
            self._condition.notify_all()

    def _hand_over(self, chunk: list[R]) -> bool:
        with self._condition:
            while len(self._chunks) >= self._capacity and not self._cancelled:
                self._condition.wait()
            if self._cancelled:
                return False
            self._chunks.append(chunk)
            self._condition.notify_all()
            return True

    def results(self) -> Iterator[R]:
        """The stream's part: the item's results in order, then its error if the read failed."""
        try:
            while True:
                with self._condition:
                    while not self._chunks and not self._done:
                        self._condition.wait()
                    if self._chunks:
                        chunk = self._chunks.popleft()
                        self._condition.notify_all()
                    elif self._error is not None:
                        raise self._error
                    else:
                        return
                yield from chunk
        finally:
            self.cancel()  # a stream that stopped early releases the worker

    def cancel(self) -> None:
        with self._condition:
            self._cancelled = True
            self._chunks.clear()
            self._condition.notify_all()


class _ItemsFailed:
    """Listing the items themselves failed: raised when the stream reaches that point of the list."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def fan_out(
    items: Iterable[T], read: Callable[[T], Iterable[R]], *, ahead: int
) -> Generator[tuple[T, Iterator[R]], None, None]:
    """Each item with an iterator over `read(item)`, read up to `ahead` items ahead in worker threads.

    The caller reads an item's results before it asks for the next item; an item whose results it
    leaves unread is cancelled when it moves on (or closes this generator).
    """
    ahead = max(1, ahead)
    capacity = max(1, min(ITEM_CHUNKS, BUFFERED_CHUNKS // ahead))
    source = iter(items)
    queued: deque[_Reading[T, R] | _ItemsFailed] = deque()
    current: _Reading[T, R] | None = None
    exhausted = False
    pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="qualtrics-fan-out")
    try:
        while True:
            while not exhausted and len(queued) <= ahead:  # the one to emit next, and `ahead` more
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                except Exception as error:  # the item list's own failure, raised at its place in the list
                    queued.append(_ItemsFailed(error))
                    exhausted = True
                    break
                reading: _Reading[T, R] = _Reading(item, capacity)
                pool.submit(reading.run, read)
                queued.append(reading)
            if not queued:
                return
            head = queued.popleft()
            if isinstance(head, _ItemsFailed):
                raise head.error
            current = head
            yield head.item, head.results()
            head.cancel()  # done with it: a no-op, unless the caller skipped some of its results
    finally:
        for left in (current, *queued):
            if isinstance(left, _Reading):
                left.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
