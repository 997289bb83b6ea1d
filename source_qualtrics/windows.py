"""Windows of last-modified time, the unit a big survey is exported in.

Qualtrics fails exports over about 1.8 GB and writes at most a million records per file, so a survey
with millions of responses cannot come out of one export. A window is `[start, end)` of last-modified
time (`startDate` inclusive, `endDate` exclusive in the export body, so adjacent windows never
overlap); `end = None` is the open-ended newest window, the only one that asks for a continuation
token. A survey's first sync is cut into windows sized from its `responseCounts` before anything is
exported, and a window whose export fails anyway is cut in halves, down to `MIN_WINDOW`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from source_qualtrics.dates import DateTime, Duration, api_format, instant

MIN_WINDOW = Duration(minutes=10)


@dataclass(frozen=True)
class Window:
    start: DateTime | None  # None: from the survey's first response
    end: DateTime | None  # None: open-ended, up to whenever the export runs

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

    def describe(self) -> str:
        start = api_format(self.start) if self.start else "the first response"
        return f"[{start}, {api_format(self.end) if self.end else 'now'})"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": api_format(self.start) if self.start else None,
            "end": api_format(self.end) if self.end else None,
        }

    @classmethod
    def from_json(cls, value: Any) -> Window:
        """A window the connector wrote into the state; anything else is a ValueError."""
        if not isinstance(value, dict):
            raise ValueError(f"not a window: {value!r}")
        start, end = value.get("start"), value.get("end")
        return cls(instant(start) if start else None, instant(end) if end else None)


def plan_windows(
    start: DateTime | None, responses: int | None, per_export: int, now: DateTime
) -> list[Window]:
    """Windows, oldest first, each expected to hold about `per_export` responses or fewer.

    Responses are assumed spread evenly over time; a window that turns out too big is split when its
    export fails. Without a start or a count there is nothing to size from: one open window.
    """
    if start is None or not responses or responses <= per_export or start >= now:
        return [Window(start, None)]
    count = math.ceil(responses / per_export)
    step = max(1, int((now - start).total_seconds() // count))
    bounds = [start.add(seconds=step * index) for index in range(count)]
    closed = [Window(low, high) for low, high in zip(bounds, bounds[1:], strict=False)]
    return [*closed, Window(bounds[-1], None)]
