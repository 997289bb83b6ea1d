"""`make bench`: throughput, memory and many-survey figures against the local simulator.

    python -m bench.run [--responses N] [--runs K] [--quick] [--output PATH] [--only slow-export|resume|scale]

1. Throughput: one survey with N responses. `source-qualtrics read` of `responses` runs as a real
   subprocess and its stdout is counted; in the same run the floor (`bench.floor`: download the same
   zip, unzip, `orjson.loads` each line, write one JSON line per record) runs as a subprocess too.
2. Memory: the connector's peak RSS (the child's `ru_maxrss`) at several survey sizes.
3. Many surveys: S surveys whose exports take 2 s each on the server, rate limits on: wall time with
   `max_concurrent_exports=1` against the default, and how many 429s the simulator answered.
4. Big brands (`bench/big.py`, run once each): 20 surveys where one export takes 60 s, against that
   lower bound; and a 1M-response survey killed after its 2nd window and resumed (records emitted
   twice, peak RSS). `--only slow-export` or `--only resume` runs one of them alone.
5. Many small surveys (`bench/scale.py`, opt-in: `--only scale`, about an hour at 2,000 surveys):
   first sync against its export-start bound, STATE written against final STATE, incremental syncs
   after 1% of surveys changed (default and `skip_unchanged_surveys`), a killed and resumed first sync.

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
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import requests

from bench.big import resumed_backfill, slow_export
from bench.enterprise import enterprise
from bench.measure import RunResult, connector_args, expect, log, measure
from bench.scale import scale
from testkit import SIM_TOKEN, simulator_process

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
    # From the download on: the connector's start-up and export wait left out, the floor's whole run.
    c_download = median([r.from_download_rate for r in connector])
    download_ratio = median([c.from_download_rate / f.rate for c, f in zip(connector, floor, strict=True)])
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Benchmark of {when}; medians of {args.runs} run(s) each"
        + " (throughput after one unmeasured warm-up pair)"
        + (" (--quick)" if args.quick else "")
        + ".",
        f"Machine: {machine()}.",
        "",
        f"**Throughput**, one survey of {args.responses:,} responses "
        "(`read` of `responses` as a subprocess, stdout counted; end to end = process start to exit; "
        "from the download on = the connector's log line that its export is ready, to exit, against the "
        "floor's whole run; streaming = first record to exit):",
        "",
        "| | end to end, records/s | from the download on, records/s | streaming, records/s "
        "| wall, s | peak RSS, MB |",
        "|---|---:|---:|---:|---:|---:|",
        f"| connector | {c_rate:,.0f} | {c_download:,.0f} | {c_stream:,.0f} "
        f"| {median([r.seconds for r in connector]):.2f} "
        f"| {median([r.peak_rss_mb for r in connector]):.0f} |",
        f"| floor (download, unzip, orjson.loads, write) | {f_rate:,.0f} | {f_rate:,.0f} | {f_stream:,.0f} "
        f"| {median([r.seconds for r in floor]):.2f} | {median([r.peak_rss_mb for r in floor]):.0f} |",
        f"| **connector / floor** (median of run pairs) | {ratio:.0%} | **{download_ratio:.0%}** "
        f"| {stream_ratio:.0%} | | |",
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
    parser.add_argument("--skip-big", action="store_true", help="leave out the two big-brand figures")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    parser.add_argument(
        "--only",
        choices=("slow-export", "resume", "scale", "enterprise"),
        help="run one figure alone: the slow export or the killed backfill (bench/big.py), the "
        "many-surveys figure (bench/scale.py) or every stream at enterprise size (bench/enterprise.py); "
        "the last two run only this way",
    )
    parser.add_argument("--scale-surveys", type=int, default=2000, help="surveys in the scale run")
    parser.add_argument("--scale-responses", type=int, default=3, help="responses per survey there")
    parser.add_argument("--slow-surveys", type=int, default=20, help="surveys in the slow-export run")
    parser.add_argument("--slow-seconds", type=float, default=60.0, help="the slow export's server time")
    parser.add_argument(
        "--resume-responses", type=int, default=1_000_000, help="responses of the killed-backfill survey"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.responses, args.runs, args.memory_sizes, args.surveys = 20_000, 1, "10000", 8
        args.slow_surveys, args.slow_seconds, args.resume_responses = 6, 10.0, 40_000
        args.scale_surveys = 200
    return args


def big_brand(workdir: Path, args: argparse.Namespace, parts: tuple[str, ...]) -> str:
    """The big-brand figures (bench/big.py), each run once: they take minutes by design."""
    sections: list[str] = []
    if "slow-export" in parts:
        log(f"slow export: {args.slow_surveys} surveys, one export of {args.slow_seconds:g} s")
        sections += ["", *slow_export(workdir, args.slow_surveys, args.slow_seconds).section()]
    if "resume" in parts:
        log(f"killed and resumed backfill: {args.resume_responses:,} responses")
        sections += ["", *resumed_backfill(workdir, args.resume_responses).section()]
    if "enterprise" in parts:  # opt-in only (bench/enterprise.py): it takes long
        sizes = (200, 2_000, 10_000) if args.quick else (2_000, 20_000, 100_000)
        log(f"every stream at enterprise size: {sizes[0]:,} surveys, {sizes[1]:,} distributions, ...")
        sections += ["", *enterprise(workdir, *sizes).section()]
    if "scale" in parts:
        log(f"many surveys: {args.scale_surveys:,} surveys x {args.scale_responses} responses")
        sections += ["", *scale(workdir, args.scale_surveys, args.scale_responses, changed=0.01)]
    return "\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only:
        with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            table = f"Benchmark of {when}, `--only {args.only}`.\nMachine: {machine()}.\n"
            table += big_brand(Path(tmp), args, (args.only,))
        return write(table, args.output.with_name(f"{args.only}.md"))
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
        big = "" if args.skip_big else big_brand(workdir, args, ("slow-export", "resume"))
    return write(report(args, throughput_runs, memory_runs, survey_runs) + big, args.output)


def write(table: str, output: Path) -> int:
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    log(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
