"""Every date the connector reads, compares or sends, through pendulum.

Qualtrics writes instants in several forms (`2021-03-25T17:16:59.208Z`, whole seconds, `+00:00`), wants
export windows in whole seconds with a `Z`, and the state keeps what Qualtrics sent at full precision.
Comparing those as strings is wrong as soon as two forms meet, so every comparison parses first.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pendulum
from pendulum import DateTime, Duration
from pendulum.parsing import parse_iso8601

__all__ = [
    "DateTime",
    "Duration",
    "NewestTimestamp",
    "api_format",
    "instant",
    "instant_of",
    "iso_millis",
    "latest",
    "now",
    "parse_instant",
    "seconds_apart",
    "whole_second",
]


def now() -> DateTime:
    return pendulum.now("UTC")


def parse_instant(value: Any) -> DateTime | None:
    """A Qualtrics timestamp as a UTC instant; None for anything that is not one (a missing value, junk)."""
    moment = _moment(value)
    return None if moment is None else instant_of(moment)


def instant_of(moment: datetime) -> DateTime:
    """An aware datetime as a UTC pendulum instant."""
    return pendulum.instance(moment).in_timezone("UTC")


def whole_second(value: Any) -> datetime | None:
    """A Qualtrics timestamp cut to its second (export windows have whole-second bounds); about 1 us."""
    moment = _moment(value)
    return None if moment is None else moment.replace(microsecond=0)


def _moment(value: Any) -> datetime | None:
    """pendulum's ISO 8601 parser (about 0.2 us, cheap enough per record); naive means UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_iso8601(value)
    except ValueError:
        return None
    if isinstance(parsed, datetime):
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    if isinstance(parsed, date):
        return datetime(parsed.year, parsed.month, parsed.day, tzinfo=timezone.utc)
    return None


def seconds_apart(earlier: Any, later: Any) -> float | None:
    """Seconds from one Qualtrics timestamp to another; None if either is not one. About 1 us: for
    checks once per record, where two pendulum instants and their difference cost about 30 us."""
    start, end = _moment(earlier), _moment(later)
    return None if start is None or end is None else (end - start).total_seconds()


def instant(value: str) -> DateTime:
    """`parse_instant` for a value the connector itself wrote; a damaged one is a ValueError."""
    parsed = parse_instant(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 instant: {value!r}")
    return parsed


def api_format(moment: DateTime) -> str:
    """The form Qualtrics accepts in export bodies: whole seconds, UTC, `Z`."""
    return moment.in_timezone("UTC").format("YYYY-MM-DDTHH:mm:ss[Z]")


def iso_millis(moment: DateTime) -> str:
    """An instant for records and state, to the millisecond like Qualtrics' own `recordedDate`."""
    return moment.in_timezone("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")


class NewestTimestamp:
    """The newest of the timestamps seen, kept as Qualtrics wrote it (for the state, at full precision)."""

    def __init__(self, start: str | None = None) -> None:
        self.value: str | None = None
        self._moment: datetime | None = None
        self.see(start)

    def see(self, value: Any) -> None:
        moment = _moment(value)
        if moment is not None and (self._moment is None or moment > self._moment):
            self._moment, self.value = moment, value


def latest(first: str | None, second: str | None) -> str | None:
    """The later of two Qualtrics timestamps, kept as written; an unparsable one loses to a parsable one."""
    first_at, second_at = parse_instant(first), parse_instant(second)
    if first_at is None:
        return second if second_at is not None else first
    if second_at is None or first_at >= second_at:
        return first
    return second
