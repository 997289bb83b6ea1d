"""The simulator as its own process, and the connector config that points at it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualtrics_simulator.admin_client import AdminClient

SIM_TOKEN = "sim-token"  # the simulator's default API token
SIMULATOR_CLI = str(Path(sys.executable).with_name("qualtrics-simulator"))
START_SECONDS = 60.0
STOP_SECONDS = 15.0


def simulator_config(base_url: str, token: str = SIM_TOKEN, **settings: Any) -> dict[str, Any]:
    """A connector config for a simulator at `base_url`, with an API token and any further settings."""
    return {"datacenter": base_url, "credentials": {"auth_type": "api_token", "api_token": token}, **settings}


@dataclass(frozen=True)
class SimulatorProcess:
    """A simulator running in another process: its API URL and a client of its admin API."""

    base_url: str

    @property
    def admin(self) -> AdminClient:
        # The CLI announces only the API URL; the admin API sits beside it on the same server.
        return AdminClient(self.base_url.replace("/API/v3", "/__admin"))

    def response_ids(self) -> dict[str, list[str]]:
        """Ground truth: the ids of every existing completed response, by survey."""
        return self.admin.all_response_ids()


def cli_flags(options: dict[str, str | int | float | bool]) -> list[str]:
    """`export_seconds=1.0` -> `--export-seconds 1.0`; `rate_limits=True` -> `--rate-limits`."""
    flags: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False:
            flags += [flag, str(value)]
    return flags


@contextmanager
def simulator_process(workdir: Path, **options: str | int | float | bool) -> Iterator[SimulatorProcess]:
    """Run `qualtrics-simulator` with these options (its CLI flags, by keyword) until the block ends.

    It listens on a free port and writes its URL to a ready file in `workdir`; its output goes to
    `workdir/simulator.log`, which a failed start quotes.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "simulator.url"
    ready.unlink(missing_ok=True)
    log_path = workdir / "simulator.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [SIMULATOR_CLI, "--port", "0", "--ready-file", str(ready), *cli_flags(options)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.05)
            yield SimulatorProcess(ready.read_text().strip())
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# One survey that no single export can hold: 5,000 responses, and exports of more than 400 fail.
CAPPED_SURVEY: dict[str, str | int | float | bool] = {
    "surveys": 1,
    "responses": 5000,
    "export_record_cap": 400,
}


def capped_survey(
    workdir: Path, skew_week_fraction: float = 0.0, **options: str | int | float | bool
) -> AbstractContextManager[SimulatorProcess]:
    """`simulator_process` with CAPPED_SURVEY: a backfill must cut it into at least 13 exports.

    `skew_week_fraction=0.9` puts 90% of its responses in one week, where cuts that halve time fail
    again and again and cuts by record count (`limit`) do not.
    """
    return simulator_process(
        workdir, **{**CAPPED_SURVEY, "skew_week_fraction": skew_week_fraction, **options}
    )
