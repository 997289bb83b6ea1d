"""Client-side pacing, so the connector stays under Qualtrics' limits instead of collecting 429s.

Qualtrics limits export starts and file downloads to about 100 requests/minute and progress polls to
about 1,000, and the whole brand to 3,000 requests/minute shared with every other integration. Each
endpoint kind gets a token bucket below its limit, and one more bucket caps the connector as a whole
at the user's `requests_per_minute`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

EXPORT_START = "export_start"
EXPORT_PROGRESS = "export_progress"
EXPORT_FILE = "export_file"
DISTRIBUTION_HISTORY = "distribution_history"
EVENT_SUBSCRIPTIONS = "event_subscriptions"
OTHER = "other"

# Qualtrics' limit on export starts (and file downloads) per brand: it bounds how fast any sync can go.
EXPORT_STARTS_PER_MINUTE = 100
# Per-endpoint budgets, a margin below Qualtrics' published limits (export starts 4% below theirs: a
# first sync of many small surveys takes as long as its export starts, so the margin is its overhead).
ENDPOINT_LIMITS_PER_MINUTE: Mapping[str, float] = {
    EXPORT_START: 96.0,
    EXPORT_PROGRESS: 900.0,
    EXPORT_FILE: 96.0,
    DISTRIBUTION_HISTORY: 270.0,
    EVENT_SUBSCRIPTIONS: 110.0,
}
DEFAULT_REQUESTS_PER_MINUTE = 1000

_HISTORY_PATH = re.compile(r"/distributions/[^/]+/history/?$")
_EXPORT_PATH = re.compile(r"/surveys/[^/]+/export-responses/?(?P<rest>[^?]*)$")


def endpoint_kind(method: str, path: str) -> str:
    """Which Qualtrics rate-limit bucket a request falls into."""
    if _HISTORY_PATH.search(path):
        return DISTRIBUTION_HISTORY
    if "/eventsubscriptions" in path:
        return EVENT_SUBSCRIPTIONS
    match = _EXPORT_PATH.search(path)
    if not match:
        return OTHER
    rest = match.group("rest").strip("/")
    if method == "POST" and not rest:
        return EXPORT_START
    if rest.endswith("/file"):
        return EXPORT_FILE
    return EXPORT_PROGRESS if rest else OTHER


@dataclass
class _Bucket:
    per_second: float
    capacity: float
    tokens: float
    updated: float


class RequestPacer:
    """Blocks just long enough that no bucket goes over its rate; returns how long it waited.

    Safe to share between threads. A request takes a token from every bucket it needs at the same
    moment, under the lock, exactly as a single thread would; when one is short it sleeps *outside*
    the lock, so a thread waiting for an export-start token never holds up requests of other kinds.
    """

    def __init__(
        self,
        requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
        endpoint_limits: Mapping[str, float] = ENDPOINT_LIMITS_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        limits = dict(endpoint_limits)
        limits["__all__"] = float(requests_per_minute)
        self._buckets = {
            kind: _Bucket(per_minute / 60.0, max(1.0, per_minute / 20.0), max(1.0, per_minute / 20.0), now)
            for kind, per_minute in limits.items()
        }

    def wait(self, kind: str) -> float:
        buckets = [self._buckets["__all__"]]
        if kind in self._buckets:
            buckets.append(self._buckets[kind])
        waited = 0.0
        while True:
            shortfall = self._take(buckets)
            if shortfall is None:
                return waited
            self._sleep(shortfall)
            waited += shortfall

    def _take(self, buckets: list[_Bucket]) -> float | None:
        """Take a token from every bucket at once, or say how long until the emptiest one has one."""
        with self._lock:
            now = self._clock()
            for bucket in buckets:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.per_second)
                bucket.updated = max(now, bucket.updated)
            shortfall = max((1.0 - bucket.tokens) / bucket.per_second for bucket in buckets)
            if shortfall <= 1e-6:  # float rounding must not turn into an endless micro-sleep
                for bucket in buckets:
                    bucket.tokens -= 1.0
                return None
            return shortfall
