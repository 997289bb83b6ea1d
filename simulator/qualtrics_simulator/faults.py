"""Runtime fault injection and rate limiting, shared by the HTTP server and the export manager."""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from typing import Any

from .config import RUNTIME_KNOBS, SimulatorConfig


class Faults:
    """Reads knobs from the (mutable) config; one lock makes counters and the RNG deterministic."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed * 7919 + 5)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, knob: str) -> bool:
        """Consume one unit of a 'next N' fault counter (fail_exports, drop_downloads, corrupt_zips)."""
        with self._lock:
            remaining = int(getattr(self.config, knob))
            if remaining <= 0:
                return False
            setattr(self.config, knob, remaining - 1)
            return True

    def server_error(self) -> int | None:
        """500 or 503 for a deterministic fraction `error_rate_5xx` of API requests."""
        with self._lock:
            rate = self.config.error_rate_5xx
            if rate <= 0 or self._rng.random() >= rate:
                return None
            return 500 if self._rng.random() < 0.5 else 503

    def retry_after(self, kind: str) -> int | None:
        """Leaky bucket per endpoint kind: seconds to wait when full, else None (request admitted)."""
        if not self.config.rate_limits:
            return None
        rpm = max(1, self.config.rpm(kind))
        drain = rpm / 60.0
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(kind, (0.0, now))
            level = max(0.0, level - (now - last) * drain)
            if level + 1 > rpm:
                self._buckets[kind] = (level, now)
                return max(1, math.ceil((level + 1 - rpm) / drain))
            self._buckets[kind] = (level + 1, now)
            return None

    def forbidden(self, path: str) -> bool:
        """Whether `path` (relative to /API/v3) matches a `forbidden_paths` pattern."""
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.config.forbidden_paths)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(RUNTIME_KNOBS))
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(unknown)}")
        with self._lock:
            for key, value in changes.items():
                if key == "rate_limit_rpm":
                    if not isinstance(value, dict):
                        raise ValueError("rate_limit_rpm must be an object")
                    value = {str(k): int(v) for k, v in value.items()}
                    self._buckets.clear()
                elif key == "forbidden_paths":
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise ValueError("forbidden_paths must be an array of strings")
                    value = list(value)
                elif key in ("blank_lines", "rate_limits"):
                    value = bool(value)
                    self._buckets.clear()
                elif key in ("fail_exports", "drop_downloads", "corrupt_zips"):
                    value = int(value)
                else:
                    value = float(value)
                setattr(self.config, key, value)
        return self.state()

    def state(self) -> dict[str, Any]:
        return {key: getattr(self.config, key) for key in RUNTIME_KNOBS}
