"""A stream's lists read in the background from the start of a sync, spooled to a file, read back later.

The CDK reads streams one after another, so a stream whose reads take longest holds every later
stream back, however many requests are in flight within it. Two do: a list paged by an opaque token
(`skipToken`) is a chain, each page's request needing the previous page's answer (100,000 contacts are
1,000 round trips one after another: at 250 ms longer than the rest of a nightly sync), and
distribution histories have the slowest budget (270 a minute). A `PageSpool` reads such a stream's
lists (its chains, read in worker threads when the stream fans them out) in a daemon thread while the
CDK reads the earlier streams, so their requests overlap:

- the worker writes each chain's elements as orjson lines to one file in the sync's spool dir (memory
  stays flat however long the chain), and the stream reads them back in order, following the file as
  the worker writes it (so its records flow as soon as they are read, never after the whole chain);
- a chain's error is kept and raised when the stream reaches the end of that chain's elements, where
  a plain read would have raised it;
- no request is made that a plain read would not make (beyond the few items a fan-out reads ahead,
  as it does in a plain read): after a failed chain the worker waits until the stream asks for a
  later chain (a stream that stops on the error never does);
- the worker's first request waits for another request to succeed (or for the stream to ask): a
  rejected credential is then refused once, and stops the sync as it did before;
- `close` (the sync ended, or failed) stops the worker at its next element and removes the file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger("airbyte")

#: how often a worker not started yet looks whether the credential proved itself
START_POLL_SECONDS = 0.05
#: elements written between two hand-overs to the reader (one page of a Qualtrics list)
COMMIT_EVERY = 100

#: what the worker reads: each chain's key (its path) with its elements, in the order the stream asks
Chains = Callable[[], Iterable[tuple[str, Iterable[Mapping[str, Any]]]]]


class SpoolClosed(Exception):
    """The sync ended while a stream still read a chain from the spool."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the read-ahead of {key} was stopped before the stream finished reading it")


@dataclass
class _Chain:
    key: str
    start: int  # byte offset of its first line
    end: int  # byte offset after its last line handed over so far
    done: bool = False
    error: BaseException | None = None


class PageSpool:
    """One daemon worker reading `chains()` into a file; `elements(key)` reads one chain back."""

    def __init__(
        self, file: Path, chains: Chains, *, after: threading.Event, name: str = "page-spool"
    ) -> None:
        """The worker starts once `after` is set (the credential proved itself on another request), or
        once the stream asks for its first chain, whichever comes first."""
        self._file = file
        self._after = after
        self._condition = threading.Condition()
        self._chains: list[_Chain] = []
        self._next = 0  # the chain the stream reads next (a key listed twice is read twice)
        self._asked = 0  # the stream asked for the chain at this index: a worker held before it goes on
        self._failure: BaseException | None = None
        self._asked_any = False
        self._finished = False  # the worker has nothing more to read
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(chains,), name=name, daemon=True)
        self._thread.start()

    # -- the worker ---------------------------------------------------------------------------------

    def _run(self, chains: Chains) -> None:
        with self._condition:
            while not (self._after.is_set() or self._asked_any or self._closed):
                self._condition.wait(START_POLL_SECONDS)
            if self._closed:
                self._finished = True
                return
        planned: Iterator[tuple[str, Iterable[Mapping[str, Any]]]] = iter(())
        try:
            planned = iter(chains())
            with self._file.open("wb") as sink:
                for key, elements in planned:
                    if not self._write(sink, key, elements):
                        return
        except BaseException as failure:  # listing the chains failed: raised to the next chain asked for
            with self._condition:
                self._failure = failure
        finally:
            close = getattr(planned, "close", None)
            if close is not None:
                close()  # a plan reading ahead in worker threads stops them
            with self._condition:
                self._finished = True
                self._condition.notify_all()

    def _write(self, sink: Any, key: str, elements: Iterable[Mapping[str, Any]]) -> bool:
        """Spool one chain; False when the spool was closed (or the stream will read no further)."""
        with self._condition:
            chain = _Chain(key, sink.tell(), sink.tell())
            self._chains.append(chain)
            self._condition.notify_all()
        lines: list[bytes] = []
        error: BaseException | None = None
        iterator = iter(elements)
        try:
            for element in iterator:
                if self._closed:
                    return False
                lines.append(orjson.dumps(element) + b"\n")
                if len(lines) >= COMMIT_EVERY:
                    self._hand_over(sink, chain, lines)
                    lines = []
        except BaseException as failure:  # raised to the stream at the end of this chain
            error = failure
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator cut short stops before its next request
        self._hand_over(sink, chain, lines, done=True, error=error)
        if error is None:
            return True
        with self._condition:  # a failed chain: go on only once the stream went past it
            while self._asked < len(self._chains) and not self._closed:
                self._condition.wait()
            return not self._closed

    def _hand_over(
        self,
        sink: Any,
        chain: _Chain,
        lines: list[bytes],
        *,
        done: bool = False,
        error: BaseException | None = None,
    ) -> None:
        sink.writelines(lines)
        sink.flush()
        with self._condition:
            chain.end, chain.done, chain.error = sink.tell(), done, error
            self._condition.notify_all()

    # -- the stream ---------------------------------------------------------------------------------

    def elements(self, key: str, otherwise: Callable[[], Iterable[Mapping[str, Any]]]) -> Iterator[Any]:
        """The chain `key`'s elements as the worker read them, then its error if it failed;
        `otherwise()` when the worker did not read that chain (it finished without it)."""
        chain = self._wait_for(key)
        if chain is None:
            yield from otherwise()
            return
        with self._file.open("rb") as source:
            source.seek(chain.start)
            position = chain.start
            while True:
                with self._condition:
                    while chain.end <= position and not (chain.done or self._finished or self._closed):
                        self._condition.wait()
                    end, done, error = chain.end, chain.done, chain.error
                    stopped = self._failure or (SpoolClosed(key) if self._closed else None)
                while position < end:
                    line = source.readline()
                    position += len(line)
                    yield orjson.loads(line)
                if done:
                    break
                if stopped is not None and position >= end:
                    raise stopped  # the worker died writing this chain, or the sync ended first
        if error is not None:
            raise error

    def _wait_for(self, key: str) -> _Chain | None:
        """The next chain named `key` (waiting for the worker to start it), None if it never will."""
        with self._condition:
            while True:
                for index in range(self._next, len(self._chains)):
                    if self._chains[index].key == key:
                        self._next = index + 1
                        self._asked = max(self._asked, index)
                        return self._chains[index]
                if self._failure is not None:
                    raise self._failure
                if self._finished or self._closed:
                    return None
                self._asked = max(self._asked, len(self._chains))  # past every chain read so far
                self._asked_any = True
                self._condition.notify_all()
                self._condition.wait()

    def close(self) -> None:
        """Stop the worker (at its next element, or while it waits) and remove the file."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout=1.0)
        self._file.unlink(missing_ok=True)
