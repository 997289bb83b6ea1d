"""`make bench`: throughput, memory and many-survey figures against the local simulator.

    python -m bench.run [--responses N] [--runs K] [--quick] [--output PATH]

1. Throughput: one survey with N responses. `source-qualtrics read` of `responses` runs as a real
   subprocess and its stdout is counted; in the same run the floor (`bench.floor`: download the same
   zip, unzip, `orjson.loads` each line, write one JSON line per record) runs as a subprocess too.
2. Memory: the connector's peak RSS (the child's `ru_maxrss`) at several survey sizes.
3. Many surveys: S surveys whose exports take 2 s each on the server, rate limits on: wall time with
   `max_concurrent_exports=1` against the default, and how many 429s the simulator answered.

Every figure is the median of K runs; the throughput pair is run once first, unmeasured, as a warm-up.
Exports are built (and cached by the simulator) before the timed
runs, so throughput measures the connector, not the simulator's file generation. The table is printed
and written to `bench/results/latest.md`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import requests

from testkit import SIM_TOKEN, Connector, configure, simulator_config, simulator_process

HEADERS = {"X-API-TOKEN": SIM_TOKEN}
RESULTS = Path(__file__).parent / "results" / "latest.md"
# The body the connector sends for a first incremental sync without a start date (the simulator caches
# the built file per body, so warming with it makes the connector's own export hit the cache).
CONNECTOR_EXPORT_BODY = {
    "format": "ndjson",
    "compress": True,
    "sortByLastModifiedDate": True,
    "allowContinuation": True,
}
RECORD_PREFIX = b'{"type":"RECORD"'
STATE_PREFIX = b'{"type":"STATE"'


@dataclass
class RunResult:
    records: int
    seconds: float
    first_record_seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def streaming_rate(self) -> float:
        """Records/s from the first record to the end: start-up and the export wait left out."""
        return self.records / max(1e-9, self.seconds - self.first_record_seconds)


# -- simulator ------------------------------------------------------------------------------------------


def build_export(base_url: str, survey_id: str) -> str:
    """Export with the connector's body and wait until the file is built; return the file's URL."""
    export = f"{base_url}/surveys/{survey_id}/export-responses"
    started = requests.post(export, json=CONNECTOR_EXPORT_BODY, headers=HEADERS, timeout=30)
    progress_id = started.json()["result"]["progressId"]
    while True:
        result = requests.get(f"{export}/{progress_id}", headers=HEADERS, timeout=30).json()["result"]
        if result["status"] == "complete":
            return f"{export}/{result['fileId']}/file"
        if result["status"] == "failed":
            raise RuntimeError(f"the simulator failed to build the export of {survey_id}")
        time.sleep(0.2)


# -- measured subprocesses ------------------------------------------------------------------------------


def measure(args: list[str], *, connector: bool) -> RunResult:
    """Run a subprocess, count the records on its stdout and take its peak RSS from wait4()."""
    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
        assert process.stdout is not None
        records = 0
        counted = 0.0
        first = 0.0
        for line in process.stdout:
            if connector:
                if line.startswith(RECORD_PREFIX):
                    records += 1
                    if records == 1:
                        first = time.perf_counter() - began
                elif line.startswith(STATE_PREFIX):
                    counted += orjson.loads(line)["state"]["sourceStats"]["recordCount"]
            elif line.strip():
                records += 1
                if records == 1:
                    first = time.perf_counter() - began
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{args[0]} exited {process.returncode}: {stderr.read()[-2000:]!r}")
    if connector and counted != records:
        raise RuntimeError(f"STATE sourceStats count {counted} records, stdout has {records}")
    return RunResult(records, seconds, first, usage.ru_maxrss / 1024.0)


def connector_args(workdir: Path, base_url: str, **settings: Any) -> list[str]:
    """`read` of `responses`, configured from the connector's own discover output."""
    connector = Connector(workdir / "connector")
    config = simulator_config(base_url, **settings)
    return connector.args("read", config, catalog=configure(connector.discover(config), "responses"))


def expect(result: RunResult, records: int, what: str) -> RunResult:
    if result.records != records:
        raise RuntimeError(f"{what}: {result.records} records, expected {records}")
    return result


# -- the three parts ------------------------------------------------------------------------------------


def throughput(workdir: Path, responses: int, runs: int) -> tuple[list[RunResult], list[RunResult]]:
    with simulator_process(workdir, seed=5, surveys=1, responses=responses, export_seconds=0.0) as sim:
        (survey,) = sim.admin.survey_ids()
        file_url = build_export(sim.base_url, survey)
        args = connector_args(workdir, sim.base_url)
        floor_args = [sys.executable, "-m", "bench.floor", file_url, SIM_TOKEN]
        connector_runs, floor_runs = [], []
        # One discarded pair first: the first process after a pause runs up to 2x slower on this VM
        # (cold page cache and CPU), which says nothing about either loop.
        expect(measure(args, connector=True), responses, "connector warm-up")
        expect(measure(floor_args, connector=False), responses, "floor warm-up")
        for run in range(runs):
            connector_runs.append(expect(measure(args, connector=True), responses, "connector"))
            floor_runs.append(expect(measure(floor_args, connector=False), responses, "floor"))
            log(
                f"  throughput run {run + 1}/{runs}: connector {connector_runs[-1].rate:,.0f}/s "
                f"({connector_runs[-1].peak_rss_mb:.0f} MB), floor {floor_runs[-1].rate:,.0f}/s"
            )
        return connector_runs, floor_runs


def memory(workdir: Path, responses: int, runs: int) -> list[RunResult]:
    with simulator_process(workdir, seed=5, surveys=1, responses=responses, export_seconds=0.0) as sim:
        (survey,) = sim.admin.survey_ids()
        build_export(sim.base_url, survey)
        args = connector_args(workdir, sim.base_url)
        results = []
        for run in range(runs):
            results.append(expect(measure(args, connector=True), responses, "connector"))
            log(f"  memory {responses:,} run {run + 1}/{runs}: {results[-1].peak_rss_mb:.0f} MB")
        return results


def many_surveys(
    workdir: Path, surveys: int, runs: int, export_seconds: float
) -> dict[str, tuple[list[float], list[int]]]:
    per_survey = 100
    figures: dict[str, tuple[list[float], list[int]]] = {}
    with simulator_process(
        workdir,
        seed=5,
        surveys=surveys,
        responses=per_survey,
        export_seconds=export_seconds,
        rate_limits=True,
    ) as sim:
        for label, config in (("max_concurrent_exports=1", {"max_concurrent_exports": 1}), ("default", {})):
            args = connector_args(workdir, sim.base_url, **config)
            walls, throttled = [], []
            for run in range(runs):
                sim.admin.reset_counts()
                result = expect(measure(args, connector=True), surveys * per_survey, label)
                walls.append(result.seconds)
                throttled.append(sim.admin.request_counts().get("429", 0))
                done = f"{walls[-1]:.1f} s, {throttled[-1]} 429s"
                log(f"  {surveys} surveys, {label}, run {run + 1}/{runs}: {done}")
            figures[label] = (walls, throttled)
    return figures


# -- report ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, airbyte-cdk {metadata.version('airbyte-cdk')}, "
        f"orjson {metadata.version('orjson')}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(
    args: argparse.Namespace,
    throughput_runs: tuple[list[RunResult], list[RunResult]],
    memory_runs: dict[int, list[RunResult]],
    survey_runs: dict[str, tuple[list[float], list[int]]] | None,
) -> str:
    connector, floor = throughput_runs
    c_rate, f_rate = median([r.rate for r in connector]), median([r.rate for r in floor])
    c_stream, f_stream = (
        median([r.streaming_rate for r in connector]),
        median([r.streaming_rate for r in floor]),
    )
    # Connector and floor runs alternate, so each pair saw the same machine load.
    ratio = median([c.rate / f.rate for c, f in zip(connector, floor, strict=True)])
    stream_ratio = median(
        [c.streaming_rate / f.streaming_rate for c, f in zip(connector, floor, strict=True)]
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Benchmark of {when}; medians of {args.runs} run(s) each"
        + " (throughput after one unmeasured warm-up pair)"
        + (" (--quick)" if args.quick else "")
        + ".",
        f"Machine: {machine()}.",
        "",
        f"**Throughput**, one survey of {args.responses:,} responses "
        "(`read` of `responses` as a subprocess, stdout counted; end to end = process start to exit, "
        "streaming = first record to exit):",
        "",
        "| | end to end, records/s | streaming, records/s | wall, s | peak RSS, MB |",
        "|---|---:|---:|---:|---:|",
        f"| connector | {c_rate:,.0f} | {c_stream:,.0f} | {median([r.seconds for r in connector]):.2f} "
        f"| {median([r.peak_rss_mb for r in connector]):.0f} |",
        f"| floor (download, unzip, orjson.loads, write) | {f_rate:,.0f} | {f_stream:,.0f} "
        f"| {median([r.seconds for r in floor]):.2f} | {median([r.peak_rss_mb for r in floor]):.0f} |",
        f"| **connector / floor** (median of run pairs) | **{ratio:.0%}** | {stream_ratio:.0%} | | |",
        "",
        "**Memory**, connector peak RSS by survey size:",
        "",
        "| responses | " + " | ".join(f"{size:,}" for size in sorted(memory_runs)) + " |",
        "|---|" + "---:|" * len(memory_runs),
        "| peak RSS, MB | "
        + " | ".join(f"{median([r.peak_rss_mb for r in memory_runs[s]]):.0f}" for s in sorted(memory_runs))
        + " |",
    ]
    if survey_runs:
        sequential = median(survey_runs["max_concurrent_exports=1"][0])
        lines += [
            "",
            f"**Many surveys**: {args.surveys} surveys of 100 responses, {args.export_seconds:g} s "
            "server-side export each, simulator rate limits on:",
            "",
            "| max_concurrent_exports | wall, s | vs sequential | 429s (median, max) |",
            "|---|---:|---:|---:|",
        ]
        for label, (walls, throttled) in survey_runs.items():
            name = "1" if label != "default" else "default (4)"
            lines.append(
                f"| {name} | {median(walls):.1f} | {median(walls) / sequential:.2f}x "
                f"| {median([float(t) for t in throttled]):.0f}, {max(throttled)} |"
            )
    return "\n".join(lines) + "\n"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=200_000, help="responses for the throughput run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument(
        "--memory-sizes",
        default="10000,200000,1000000",
        help="comma-separated survey sizes for the peak-RSS table",
    )
    parser.add_argument("--surveys", type=int, default=50, help="surveys in the many-surveys run")
    parser.add_argument("--export-seconds", type=float, default=2.0, help="server-side time per export")
    parser.add_argument("--skip-surveys", action="store_true", help="leave out the many-surveys part")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.responses, args.runs, args.memory_sizes, args.surveys = 20_000, 1, "10000", 8
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted({int(size) for size in args.memory_sizes.split(",") if size} | {args.responses})
    with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
        workdir = Path(tmp)
        log(f"throughput: {args.responses:,} responses, {args.runs} run(s)")
        throughput_runs = throughput(workdir, args.responses, args.runs)
        memory_runs = {args.responses: throughput_runs[0]}
        for size in sizes:
            if size not in memory_runs:
                memory_runs[size] = memory(workdir, size, args.runs)
        survey_runs = None
        if not args.skip_surveys:
            log(
                f"many surveys: {args.surveys} surveys, {args.export_seconds:g} s exports, {args.runs} run(s)"
            )
            survey_runs = many_surveys(workdir, args.surveys, args.runs, args.export_seconds)
    table = report(args, throughput_runs, memory_runs, survey_runs)
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
