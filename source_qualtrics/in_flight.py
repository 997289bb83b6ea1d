"""The bound on API requests in flight at once, lowered for a while after Qualtrics answers 429.

Qualtrics publishes no concurrency limit, only requests per minute; the pacer keeps to those. A 429
says the brand is over a limit right now (other integrations share it, or a limit the connector does
not know): slowing down that one request is not enough while the other threads keep firing, so the
bound is halved (down to 1) for a cool-down of at least the `Retry-After`, then climbs back one
request per further cool-down step. One 429 per burst lowers it once: answers to requests sent before
the bound was lowered do not lower it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("airbyte")

#: the shortest time the bound stays lowered after a 429, and the time between two steps back up
COOL_DOWN_SECONDS = 10.0


class InFlightLimit:
    """A counting semaphore whose size adapts: `acquire` before an HTTP attempt, `release` after."""

    def __init__(
        self,
        ceiling: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        cool_down: float = COOL_DOWN_SECONDS,
    ) -> None:
        self.ceiling = max(1, ceiling)
        self._clock = clock
        self._cool_down = cool_down
        self._condition = threading.Condition()
        self._limit = self.ceiling
        self._in_flight = 0
        self._generation = 0  # bumped when the bound is lowered
        self._calm_at = 0.0  # when the bound may grow by one step

    @property
    def limit(self) -> int:
        with self._condition:
            self._recover()
            return self._limit

    def acquire(self) -> int:
        """Wait for a free place; return the generation a 429 to this request is reported with."""
        with self._condition:
            while True:
                self._recover()
                if self._in_flight < self._limit:
                    self._in_flight += 1
                    return self._generation
                lowered = self._limit < self.ceiling
                self._condition.wait(max(0.05, self._calm_at - self._clock()) if lowered else None)

    def release(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify()

    def throttled(self, generation: int, retry_after: float | None) -> None:
        """A request sent in `generation` was answered 429: lower the bound, unless already lowered."""
        with self._condition:
            if generation != self._generation:
                return  # sent before the last lowering: that one already accounted for it
            self._generation += 1
            self._calm_at = self._clock() + max(self._cool_down, retry_after or 0.0)
            lowered = max(1, self._limit // 2)
            if lowered < self._limit:
                logger.warning(
                    "Qualtrics answered 429: at most %d requests in flight (was %d) for at least %.0f s",
                    lowered,
                    self._limit,
                    self._calm_at - self._clock(),
                )
            self._limit = lowered

    def _recover(self) -> None:
        """One step back up per cool-down step since the last 429 (called with the lock held)."""
        now = self._clock()
        while self._limit < self.ceiling and now >= self._calm_at:
            self._limit += 1
            self._calm_at += self._cool_down
            self._condition.notify_all()
