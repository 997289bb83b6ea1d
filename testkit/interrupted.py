"""A connector run read line by line as it happens: timed, and killed the moment a condition holds.

Resumability is proven the way a platform crash would test it: SIGKILL right after a chosen STATE,
then a new run from the last STATE the platform saw. Progress is proven by when lines arrive. Both
need the messages as they come out of the process, which `Connector.run` (run to the end) cannot give.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testkit.connector import latest_state_per_stream


@dataclass
class LiveRun:
    """What a run printed, each message with the wall-clock time it arrived; a killed run's partial lines
    are dropped, as the platform drops them."""

    returncode: int
    messages: list[dict[str, Any]]
    arrivals: list[float]
    peak_rss_mb: float
    killed: bool
    stderr: str = field(repr=False, default="")

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"]["data"]
            for m in self.messages
            if m.get("type") == "RECORD" and m["record"]["stream"] == stream
        ]

    def latest_states(self) -> list[dict[str, Any]]:
        return latest_state_per_stream([m["state"] for m in self.messages if m.get("type") == "STATE"])

    def timed(self) -> list[tuple[float, dict[str, Any]]]:
        return list(zip(self.arrivals, self.messages, strict=True))


def run_live(
    args: list[str],
    kill_when: Callable[[dict[str, Any], list[dict[str, Any]]], bool] | None = None,
    *,
    timeout: float = 600.0,
    slim: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> LiveRun:
    """Run `args`, timestamping every message; SIGKILL it once `kill_when(message, seen)` is true.

    `slim` shrinks each message before it is kept (a million whole records would not fit in memory).
    Peak RSS comes from `wait4` on the child itself, so it is the connector's, not this process's.
    """
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert process.stdout is not None
        messages: list[dict[str, Any]] = []
        arrivals: list[float] = []
        deadline = time.monotonic() + timeout
        killed = False
        try:
            for line in process.stdout:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{args[0]} ran longer than {timeout:.0f} s")
                if not line.endswith("\n") or not line.startswith("{"):
                    continue  # a line cut short by the kill, or not a message
                message = json.loads(line)
                if slim is not None:
                    message = slim(message)
                messages.append(message)
                arrivals.append(time.time())
                if kill_when is not None and not killed and kill_when(message, messages):
                    process.send_signal(signal.SIGKILL)
                    killed = True
        except BaseException:
            process.kill()  # not reaped yet (no poll()), so wait4 below still finds it
            raise
        finally:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        errors = stderr.read()
    return LiveRun(process.returncode, messages, arrivals, usage.ru_maxrss / 1024.0, killed, errors)
