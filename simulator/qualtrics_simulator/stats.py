"""Request counters per endpoint kind and per HTTP status, the ground truth for retry/limit tests."""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    ALWAYS = ("200", "400", "401", "404", "429", "500", "503")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()  # API requests by the Host they were sent to

    def record(self, kind: str, status: int) -> None:
        """One request of `kind` answered `status`; a 429 is also counted as `429 <kind>`, so a bench
        can tell which limit throttled it."""
        with self._lock:
            self._counts[kind] += 1
            self._counts[str(status)] += 1
            if status == 429:
                self._counts[f"429 {kind}"] += 1

    def count(self, name: str) -> None:
        """An event that is not a request, such as an export job actually started."""
        with self._lock:
            self._counts[name] += 1

    def record_host(self, host: str) -> None:
        with self._lock:
            self._hosts[host] += 1

    def hosts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._hosts)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            result = {status: 0 for status in self.ALWAYS}
            result.update(self._counts)
            return result

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._hosts.clear()
