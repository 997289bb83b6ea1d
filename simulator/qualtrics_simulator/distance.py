"""Distance to the datacenter: per-request latency, and a cap on requests in flight per credential.

The simulator answers in microseconds; Qualtrics answers from another continent in hundreds of
milliseconds. With `latency_ms` (plus up to `latency_jitter_ms` at random) every API request waits that
long before it is answered, so a client that sends one request at a time is as latency-bound here as on
a real network. `max_in_flight` answers 429 to a credential's request beyond that many at once (Qualtrics
publishes no such cap; the knob lets tests see a client back off). The most requests seen in flight at
once is kept for the request counts (`in_flight_max`), the ground truth for overlap tests.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from .config import SimulatorConfig


class Distance:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed * 104729 + 11)
        self._in_flight: Counter[str] = Counter()
        self._total = 0
        self.max_in_flight_seen = 0

    @contextmanager
    def request(self, credential: str) -> Iterator[bool]:
        """Hold one request in flight for `credential`; yields False when it is over the cap (answer 429).

        The latency is waited inside, so a request counts as in flight for its whole round trip.
        """
        with self._lock:
            self._in_flight[credential] += 1
            self._total += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self._total)
            cap = self.config.max_in_flight
            admitted = cap is None or self._in_flight[credential] <= cap
            delay = self.config.latency_ms + self._rng.uniform(0.0, self.config.latency_jitter_ms)
        try:
            if delay > 0:
                time.sleep(delay / 1000.0)
            yield admitted
        finally:
            with self._lock:
                self._in_flight[credential] -= 1
                self._total -= 1

    def reset(self) -> None:
        """Forget the maximum (with the request counts): the next sync's overlap is its own."""
        with self._lock:
            self.max_in_flight_seen = self._total
