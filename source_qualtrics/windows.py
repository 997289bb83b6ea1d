"""Windows of last-modified time, the unit a big survey is exported in, and keyset chunks within them.

Qualtrics fails exports over about 1.8 GB and writes at most a million records per file, so a survey
with millions of responses cannot come out of one export. A window is `[start, end)` of last-modified
time (`startDate` inclusive, `endDate` exclusive in the export body, so adjacent windows never
overlap); `end = None` is the open-ended newest window, the only one that asks for a continuation
token. A survey's first sync is cut into windows sized from its `responseCounts` before anything is
exported.

A window whose export fails anyway is exported in *chunks*: `limit` responses at a time, sorted by
last-modified date, each chunk starting at the last second the previous one reached (keyset paging).
Halving a count converges whatever the spread of responses in time, where halving time does not (a
launch week holds most of a survey). `seen` lists the responses at the chunk's first second that the
previous chunk already emitted, since `startDate` has whole-second precision. Without last-modified
sorting (a saved filter), chunks are impossible and a failed window is cut in halves of time instead,
down to `MIN_WINDOW`.

No public document says the sort is ascending or that `limit` keeps the *oldest* responses, and keyset
paging loses responses silently if either is false. So each chunk is checked as it streams
(`ChunkProgress.broken`): ascending last-modified seconds, at most `limit` records, all inside the
window. A chunk that breaks any of these gives no successor and emits nothing past the breach; its
window is exported by time instead (`Window.order_free`), skipping the responses the chunk did emit
(`AlreadyEmitted`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from source_qualtrics.dates import DateTime, Duration, api_format, instant, instant_of, whole_second

MIN_WINDOW = Duration(minutes=10)


@dataclass(frozen=True)
class Window:
    start: DateTime | None  # None: from the survey's first response
    end: DateTime | None  # None: open-ended, up to whenever the export runs
    limit: int | None = None  # exported in chunks of this many responses (None: whole)
    seen: tuple[str, ...] = ()  # responses at `start`'s second already emitted by the previous chunk

    @property
    def open_ended(self) -> bool:
        return self.end is None

    def body_dates(self) -> dict[str, str]:
        dates = {}
        if self.start is not None:
            dates["startDate"] = api_format(self.start)
        if self.end is not None:
            dates["endDate"] = api_format(self.end)
        return dates

    def halves(self, now: DateTime, earliest: DateTime | None) -> tuple[Window, Window] | None:
        """The window cut in two at its middle; None when it is already as narrow as allowed.

        An open start counts from `earliest` (the survey's creation), an open end up to `now`.
        """
        start = self.start or earliest
        end = self.end or now
        if start is None or end - start < MIN_WINDOW * 2:
            return None
        middle = start.add(seconds=int((end - start).total_seconds() // 2))
        return Window(self.start, middle), Window(middle, self.end)

    def in_chunks(self, limit: int) -> Window:
        """The same window, exported `limit` responses at a time."""
        return replace(self, limit=max(1, limit))

    def smaller_chunks(self) -> Window | None:
        """Chunks of half the size, from the same position; None when that cannot make progress: a
        chunk of one response, or one that could not reach past the responses it must skip (`seen`)."""
        if self.limit is None or self.limit // 2 <= len(self.seen):
            return None
        return replace(self, limit=self.limit // 2)

    def order_free(self, now: DateTime, earliest: DateTime | None) -> list[Window]:
        """The same responses without `limit`, by time only: its halves, or the whole window when it is
        too narrow to halve. Nothing here depends on the order Qualtrics sorts a `limit`ed export in."""
        whole = Window(self.start, self.end)
        halves = whole.halves(now, earliest)
        return list(halves) if halves is not None else [whole]

    def describe(self) -> str:
        start = api_format(self.start) if self.start else "the first response"
        span = f"[{start}, {api_format(self.end) if self.end else 'now'})"
        if self.limit is None:
            return span
        noun = "response" if self.limit == 1 else "responses"
        return f"the next {self.limit} {noun} of {span}"

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "start": api_format(self.start) if self.start else None,
            "end": api_format(self.end) if self.end else None,
        }
        if self.limit is not None:
            value["limit"] = self.limit
        if self.seen:
            value["seen"] = list(self.seen)
        return value

    @classmethod
    def from_json(cls, value: Any) -> Window:
        """A window the connector wrote into the state; anything else is a ValueError."""
        if not isinstance(value, dict):
            raise ValueError(f"not a window: {value!r}")
        start, end, limit, seen = value.get("start"), value.get("end"), value.get("limit"), value.get("seen")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ValueError(f"not a chunk size: {limit!r}")
        if seen is not None and not (isinstance(seen, list) and all(isinstance(i, str) for i in seen)):
            raise ValueError(f"not a list of response ids: {seen!r}")
        return cls(instant(start) if start else None, instant(end) if end else None, limit, tuple(seen or ()))


@dataclass(frozen=True)
class AlreadyEmitted:
    """What a chunk that broke the contract emitted, and the responses of its first second the chunk
    before it emitted (`seen`): the window's re-export skips exactly these versions (an edit since
    then changes `lastModifiedDate`, so the edited version is emitted)."""

    versions: frozenset[tuple[Any, Any]]  # (responseId, lastModifiedDate as exported)
    seen: frozenset[str]
    second: DateTime | None  # the second the `seen` responses were modified in

    def holds(self, response_id: Any, modified: Any) -> bool:
        if (response_id, modified) in self.versions:
            return True
        return response_id in self.seen and self.second is not None and whole_second(modified) == self.second


class ChunkProgress:
    """Follows one chunk's records (sorted by last-modified date) to say where the next chunk starts.

    Also drops the responses the previous chunk already emitted (`Window.seen`), so a response at a
    chunk boundary is emitted once, and checks the contract keyset paging relies on (`broken`).
    """

    def __init__(self, window: Window) -> None:
        self.window = window
        self.lines = 0
        self.broken: str | None = None  # the first breach of the chunk contract, as seen
        self._versions: list[tuple[Any, Any]] = []  # what the chunk emitted (until a breach)
        self._skip = frozenset(window.seen)
        self._second: datetime | None = None  # the newest whole second seen so far
        self._ids: list[str] = []  # the responses in it

    def admit(self, response_id: Any, modified: Any) -> bool:
        """Count one exported response; False when the previous chunk already emitted it, or when the
        chunk broke its contract (the window is exported again by time: the response comes then)."""
        self.lines += 1
        second = whole_second(modified)
        if self.broken is None:
            self.broken = self._breach(response_id, second)
        if self.broken is not None:
            return False
        if second is not None:
            if self._second is None or second > self._second:
                self._second, self._ids = second, [response_id]
            elif second == self._second:
                self._ids.append(response_id)
            if self._skip and second == self.window.start and response_id in self._skip:
                return False
        self._versions.append((response_id, modified))
        return True

    def already_emitted(self) -> AlreadyEmitted:
        return AlreadyEmitted(frozenset(self._versions), frozenset(self.window.seen), self.window.start)

    def _breach(self, response_id: Any, second: datetime | None) -> str | None:
        """What this record shows wrong with the chunk, if anything. Whole seconds suffice: the next
        chunk starts at a whole second, so order within one second cannot lose a response."""
        window, limit = self.window, self.window.limit
        if limit is not None and self.lines > limit:
            return f"{self.lines} records from an export limited to {limit}"
        if second is None:
            return None
        if self._second is not None and second < self._second:
            return (
                f"response {response_id} modified at {api_format(instant_of(second))} after one at "
                f"{api_format(instant_of(self._second))} (not ascending)"
            )
        if (window.start is not None and second < window.start) or (
            window.end is not None and second >= window.end
        ):
            stamp = api_format(instant_of(second))
            return f"response {response_id} modified at {stamp}, outside {window.describe()}"
        return None

    def successor(self) -> Window | None:
        """The next chunk of the window, or None when this chunk reached its end or broke the contract."""
        limit = self.window.limit
        if limit is None or self.lines < limit or self._second is None or self.broken is not None:
            return None
        start = instant_of(self._second)
        if start == self.window.start:
            # Every response of the chunk shares its first second: the next one must reach past them.
            seen = tuple(dict.fromkeys([*self.window.seen, *self._ids]))
            return replace(self.window, seen=seen, limit=max(limit * 2, len(seen) + 1))
        return replace(self.window, start=start, seen=tuple(self._ids))


def plan_windows(
    start: DateTime | None, responses: int | None, per_export: int, now: DateTime
) -> list[Window]:
    """Windows, oldest first, each expected to hold about `per_export` responses or fewer.

    Responses are assumed spread evenly over time; a window that turns out too big is exported in
    chunks when its export fails. Without a start or a count there is nothing to size from: one open
    window.
    """
    if start is None or not responses or responses <= per_export or start >= now:
        return [Window(start, None)]
    count = math.ceil(responses / per_export)
    step = max(1, int((now - start).total_seconds() // count))
    bounds = [start.add(seconds=step * index) for index in range(count)]
    closed = [Window(low, high) for low, high in zip(bounds, bounds[1:], strict=False)]
    return [*closed, Window(bounds[-1], None)]
