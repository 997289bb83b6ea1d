"""Measured connector runs: records counted on stdout, wall time, time to first record, peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from testkit import Connector, configure, simulator_config

RECORD_PREFIX = b'{"type":"RECORD"'
STATE_PREFIX = b'{"type":"STATE"'
# The connector logs this the moment an export is ready, right before it downloads the file.
DOWNLOAD_MARK = b" complete after "
# The CDK ceiling logs this right before its download (bench.ceiling.DOWNLOAD_LOG). Not imported from
# there: airbyte-cdk in this process would count in every child's ru_maxrss (a child starts as a copy).
CEILING_DOWNLOAD_MARK = b"ceiling: downloading the export"


@dataclass
class RunResult:
    records: int
    seconds: float
    first_record_seconds: float
    peak_rss_mb: float
    download_seconds: float = 0.0  # when the download began (0 for the floor, which starts with it)
    cpu_seconds: float = 0.0  # the process's CPU time (user + system), start to exit
    download_cpu_seconds: float = 0.0  # its CPU time when the download began (0 for the floor)

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def from_download_rate(self) -> float:
        """Records/s from the start of the download to the end: start-up and the export wait left out,
        the download, the zip check and the parse kept (the floor's whole run does the same work)."""
        return self.records / max(1e-9, self.seconds - self.download_seconds)

    @property
    def from_download_cpu_rate(self) -> float:
        """Records per CPU-second from the download on: what the loop costs, whatever else the
        machine runs at the same time (wall-clock rates move with other processes; this far less)."""
        return self.records / max(1e-9, self.cpu_seconds - self.download_cpu_seconds)

    @property
    def streaming_rate(self) -> float:
        """Records/s from the first record to the end: start-up and the export wait left out."""
        return self.records / max(1e-9, self.seconds - self.first_record_seconds)


def measure(args: list[str], *, connector: bool, download_mark: bytes = DOWNLOAD_MARK) -> RunResult:
    """Run a subprocess, count the records on its stdout and take its peak RSS from wait4().

    `connector`: the process speaks the Airbyte protocol (the connector, or the CDK ceiling), whose
    log line `download_mark` starts the download; otherwise every line is a record (the floor).
    """
    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
        assert process.stdout is not None
        records = 0
        counted = 0.0
        first = 0.0
        download = download_cpu = 0.0
        said = b""  # the last line that is not a record: why a failed run failed
        for line in process.stdout:
            if connector:
                if not download and download_mark in line and line.startswith(b'{"type":"LOG"'):
                    download = time.perf_counter() - began
                    download_cpu = cpu_seconds_so_far(process.pid)
                if line.startswith(RECORD_PREFIX):
                    records += 1
                    if records == 1:
                        first = time.perf_counter() - began
                elif line.startswith(STATE_PREFIX):
                    counted += orjson.loads(line)["state"]["sourceStats"]["recordCount"]
                else:
                    said = line
            elif line.strip():
                records += 1
                if records == 1:
                    first = time.perf_counter() - began
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(
                f"{args[0]} exited {process.returncode}: {stderr.read()[-2000:]!r}, "
                f"last said {said[-2000:]!r}"
            )
    if connector and counted != records:
        raise RuntimeError(f"STATE sourceStats count {counted} records, stdout has {records}")
    cpu = usage.ru_utime + usage.ru_stime
    return RunResult(records, seconds, first, usage.ru_maxrss / 1024.0, download, cpu, download_cpu)


def cpu_seconds_so_far(pid: int) -> float:
    """A running process's CPU time (user + system) from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def connector_args(workdir: Path, base_url: str, **settings: Any) -> list[str]:
    """`read` of `responses`, configured from the connector's own discover output."""
    return stream_args(workdir, base_url, "responses", settings)


def stream_args(workdir: Path, base_url: str, stream: str, settings: dict[str, Any]) -> list[str]:
    """`read` of one stream with these settings, configured from the connector's own discover output."""
    connector = Connector(workdir / "connector")
    config = simulator_config(base_url, **settings)
    return connector.args("read", config, catalog=configure(connector.discover(config), stream))


def measure_ceiling(args: list[str]) -> RunResult:
    result = measure(args, connector=True, download_mark=CEILING_DOWNLOAD_MARK)
    if not result.download_seconds:
        raise RuntimeError("the CDK ceiling never logged the start of its download")
    return result


def ceiling_args(workdir: Path, file_url: str, token: str) -> list[str]:
    """`read` of the CDK ceiling (`bench.ceiling`) over one export file."""
    folder = workdir / "ceiling"
    folder.mkdir(parents=True, exist_ok=True)
    config, catalog = folder / "config.json", folder / "catalog.json"
    config.write_bytes(orjson.dumps({"url": file_url, "token": token}))
    stream = {"name": "responses", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}
    configured = {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
    catalog.write_bytes(orjson.dumps({"streams": [configured]}))
    return [sys.executable, "-m", "bench.ceiling", "read", "--config", str(config), "--catalog", str(catalog)]


def expect(result: RunResult, records: int, what: str) -> RunResult:
    if result.records != records:
        raise RuntimeError(f"{what}: {result.records} records, expected {records}")
    return result


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
