"""Runtime fault injection and rate limiting, shared by the HTTP server and the export manager."""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from .config import RUNTIME_KNOBS, SimulatorConfig
from .errors import ApiError, forbidden, survey_not_found


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

    def take_drop(self, survey_id: str) -> int:
        """How many responses the survey's export about to start silently omits (`drop_responses`, once)."""
        with self._lock:
            return self.config.drop_responses.pop(survey_id, 0)

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

    def export_refusal(self, survey_id: str) -> ApiError | None:
        """403 or 404 for a survey that is listed but may not be exported (export_*_surveys knobs)."""
        if survey_id in self.config.export_forbidden_surveys:
            return forbidden()
        if survey_id in self.config.export_missing_surveys:
            return survey_not_found()
        return None

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(RUNTIME_KNOBS))
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(unknown)}")
        parsed = {key: KNOB_PARSERS[key](key, value) for key, value in changes.items()}
        with self._lock:
            for key, value in parsed.items():
                setattr(self.config, key, value)
            if {"rate_limits", "rate_limit_rpm"} & set(parsed):
                self._buckets.clear()
        return self.state()

    def state(self) -> dict[str, Any]:
        return {key: getattr(self.config, key) for key in RUNTIME_KNOBS}


# --- parsing runtime knob values (POST /__admin/faults) ----------------------------------------------


def _count(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _positive(name: str, value: Any) -> int:
    if _count(name, value) < 1:
        raise ValueError(f"{name} must be a positive integer")
    return int(value)


def _optional_cap(name: str, value: Any) -> int | None:
    return None if value is None else _positive(name, value)


def _number(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be an array of strings")
    return list(value)


def _numbers_by_key(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    return {str(key): _number(f"{name}.{key}", v) for key, v in value.items()}


def _counts_by_key(name: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    return {str(key): _positive(f"{name}.{key}", v) for key, v in value.items()}


KNOB_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "error_rate_5xx": _number,
    "fail_exports": _count,
    "drop_downloads": _count,
    "corrupt_zips": _count,
    "token_max_age_seconds": _number,
    "blank_lines": _flag,
    "rate_limits": _flag,
    "rate_limit_rpm": _counts_by_key,
    "export_seconds": _number,
    "export_seconds_by_survey": _numbers_by_key,
    "export_seconds_per_1000_records": _number,
    "export_record_cap": _optional_cap,
    "export_byte_cap": _optional_cap,
    "records_per_file": _positive,
    "export_forbidden_surveys": _strings,
    "export_missing_surveys": _strings,
    "forbidden_paths": _strings,
    "drop_responses": _counts_by_key,
    "latency_ms": _number,
    "latency_jitter_ms": _number,
    "max_in_flight": _optional_cap,
}
