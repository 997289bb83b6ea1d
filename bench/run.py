"""`make bench`: throughput, memory and many-survey figures against the local simulator.

    python -m bench.run [--responses N] [--runs K] [--quick] [--widths 25,75,150] [--output PATH]
                        [--only slow-export|resume|scale|enterprise|widths|latency-FIGURE]
                        [--latency-ms 0,250]

1. Throughput: one survey with N responses. `source-qualtrics read` of `responses` runs as a real
   subprocess and its stdout is counted; in the same run two references run as subprocesses too, over
   the same export file: the CDK ceiling (`bench.ceiling`: the floor's loop yielded by a minimal
   airbyte-cdk source started with `airbyte_cdk.entrypoint.launch`, the best any airbyte-cdk connector
   can do) and the bare floor (`bench.floor`: download the zip, unzip, `orjson.loads` each line, write
   one JSON line per record). The connector is judged against the ceiling; the floor shows the CDK's cost.
   By record width (`bench/widths.py`, `--widths 25,75,150`, empty for none): the same comparison on
   surveys whose responses hold about 25, 75 and 150 values, for `responses` and for the typed
   per-survey stream, in records per second and per CPU-second.
2. Memory: the peak RSS (the child's `ru_maxrss`) of the connector and of the CDK ceiling at several
   survey sizes.
3. Many surveys: S surveys whose exports take 2 s each on the server, rate limits on: wall time with
   `max_concurrent_exports=1` against the default, and how many 429s the simulator answered.
4. Big brands (`bench/big.py`, run once each): 20 surveys where one export takes 60 s, against that
   lower bound; and a 1M-response survey killed after its 2nd window and resumed (records emitted
   twice, peak RSS). `--only slow-export` or `--only resume` runs one of them alone.
5. Many small surveys (`bench/scale.py`, opt-in: `--only scale`, about an hour at 2,000 surveys):
   first sync against its export-start bound, STATE written against final STATE, incremental syncs
   after 1% of surveys changed (default and `skip_unchanged_surveys`), a killed and resumed first sync.
6. Every stream at enterprise size (`bench/enterprise.py`, opt-in: `--only enterprise`): requests and
   wall time per stream, first sync and a nightly sync after 1% of everything changed.
7. Wall time on a real network against the pacing bound (`bench/latency.py`, opt-in, one figure at a
   time: `--only latency-responses|latency-nightly|latency-first|latency-skip`), at each `--latency-ms`;
   the rows are merged into `bench/results/latency.md`.

Every figure is the median of K runs; the throughput trio is run once first, unmeasured, as a warm-up.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import requests

from bench import latency
from bench.big import resumed_backfill, slow_export
from bench.enterprise import enterprise
from bench.measure import RunResult, ceiling_args, connector_args, expect, log, measure, measure_ceiling
from bench.scale import scale
from bench.widths import widths_table
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


@dataclass
class Throughput:
    """Runs of the connector, the CDK ceiling and the floor, taken in turns (each trio saw the same load)."""

    connector: list[RunResult]
    ceiling: list[RunResult]
    floor: list[RunResult]


def throughput(workdir: Path, responses: int, runs: int) -> Throughput:
    with simulator_process(workdir, seed=5, surveys=1, responses=responses, export_seconds=0.0) as sim:
        (survey,) = sim.admin.survey_ids()
        file_url = build_export(sim.base_url, survey)
        args = connector_args(workdir, sim.base_url)
        cdk_args = ceiling_args(workdir, file_url, SIM_TOKEN)
        floor_args = [sys.executable, "-m", "bench.floor", file_url, SIM_TOKEN]
        figures = Throughput([], [], [])
        # One discarded trio first: the first process after a pause runs up to 2x slower on this VM
        # (cold page cache and CPU), which says nothing about any of the loops.
        expect(measure(args, connector=True), responses, "connector warm-up")
        expect(measure_ceiling(cdk_args), responses, "ceiling warm-up")
        expect(measure(floor_args, connector=False), responses, "floor warm-up")
        for run in range(runs):
            figures.connector.append(expect(measure(args, connector=True), responses, "connector"))
            figures.ceiling.append(expect(measure_ceiling(cdk_args), responses, "ceiling"))
            figures.floor.append(expect(measure(floor_args, connector=False), responses, "floor"))
            connector, ceiling = figures.connector[-1], figures.ceiling[-1]
            log(
                f"  throughput run {run + 1}/{runs}: from the download on connector "
                f"{connector.from_download_rate:,.0f}/s ({connector.peak_rss_mb:.0f} MB), CDK ceiling "
                f"{ceiling.from_download_rate:,.0f}/s ({ceiling.peak_rss_mb:.0f} MB), "
                f"floor {figures.floor[-1].rate:,.0f}/s"
            )
        return figures


def memory(workdir: Path, responses: int, runs: int) -> tuple[list[RunResult], list[RunResult]]:
    """(connector runs, CDK ceiling runs) over one survey of `responses`."""
    with simulator_process(workdir, seed=5, surveys=1, responses=responses, export_seconds=0.0) as sim:
        (survey,) = sim.admin.survey_ids()
        file_url = build_export(sim.base_url, survey)
        args = connector_args(workdir, sim.base_url)
        cdk_args = ceiling_args(workdir, file_url, SIM_TOKEN)
        connector, ceiling = [], []
        for run in range(runs):
            connector.append(expect(measure(args, connector=True), responses, "connector"))
            ceiling.append(expect(measure_ceiling(cdk_args), responses, "ceiling"))
            log(
                f"  memory {responses:,} run {run + 1}/{runs}: connector {connector[-1].peak_rss_mb:.0f} MB, "
                f"CDK ceiling {ceiling[-1].peak_rss_mb:.0f} MB"
            )
        return connector, ceiling


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
    figures: Throughput,
    memory_runs: dict[int, tuple[list[RunResult], list[RunResult]]],
    survey_runs: dict[str, tuple[list[float], list[int]]] | None,
) -> str:
    runs = {"connector": figures.connector, "ceiling": figures.ceiling, "floor": figures.floor}

    def of(name: str, figure: str) -> float:
        return median([getattr(r, figure) for r in runs[name]])

    def ratio(name: str, reference: str, figure: str, reference_figure: str | None = None) -> float:
        """Median over the run trios of name's figure / the reference's (same machine load per trio)."""
        pairs = zip(runs[name], runs[reference], strict=True)
        return median([getattr(a, figure) / getattr(b, reference_figure or figure) for a, b in pairs])

    def row(label: str, name: str, from_download: str) -> str:
        return (
            f"| {label} | {of(name, 'rate'):,.0f} | {of(name, from_download):,.0f} "
            f"| {of(name, 'streaming_rate'):,.0f} | {of(name, 'seconds'):.2f} "
            f"| {of(name, 'peak_rss_mb'):.0f} |"
        )

    # From the download on: the start-up and export wait left out (the floor's whole run is its download).
    to_ceiling = ratio("connector", "ceiling", "from_download_rate")
    to_floor = ratio("connector", "floor", "from_download_rate", "rate")
    ceiling_to_floor = ratio("ceiling", "floor", "from_download_rate", "rate")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sizes = sorted(memory_runs)

    def rss(size: int, which: int) -> float:
        return median([r.peak_rss_mb for r in memory_runs[size][which]])

    lines = [
        f"Benchmark of {when}; medians of {args.runs} run(s) each"
        + " (throughput after one unmeasured warm-up trio)"
        + (" (--quick)" if args.quick else "")
        + ".",
        f"Machine: {machine()}.",
        "",
        f"**Throughput**, one survey of {args.responses:,} responses, each a subprocess with its stdout "
        "counted: `read` of `responses`; the CDK ceiling (the floor's loop yielded through a minimal "
        "airbyte-cdk source started with `airbyte_cdk.entrypoint.launch`); the bare floor. End to end = "
        "process start to exit; from the download on = the log line that the export is ready (the "
        "ceiling's: that it starts downloading) to exit, the floor's whole run; streaming = first record "
        "to exit:",
        "",
        "| | end to end, records/s | from the download on, records/s | streaming, records/s "
        "| wall, s | peak RSS, MB |",
        "|---|---:|---:|---:|---:|---:|",
        row("connector", "connector", "from_download_rate"),
        row("CDK ceiling (minimal airbyte-cdk source, same loop)", "ceiling", "from_download_rate"),
        row("floor (download, unzip, orjson.loads, write)", "floor", "rate"),
        f"| **connector / CDK ceiling** (median of run trios) | {ratio('connector', 'ceiling', 'rate'):.0%} "
        f"| **{to_ceiling:.0%}** (target >= 90%) "
        f"| {ratio('connector', 'ceiling', 'streaming_rate'):.0%} | | |",
        f"| connector / floor | {ratio('connector', 'floor', 'rate'):.0%} | {to_floor:.0%} "
        f"| {ratio('connector', 'floor', 'streaming_rate'):.0%} | | |",
        f"| CDK ceiling / floor (the CDK's own cost) | {ratio('ceiling', 'floor', 'rate'):.0%} "
        f"| {ceiling_to_floor:.0%} | {ratio('ceiling', 'floor', 'streaming_rate'):.0%} | | |",
        "",
        "**Memory**, peak RSS by survey size (target: the connector within 20 MB of the ceiling, flat):",
        "",
        "| responses | " + " | ".join(f"{size:,}" for size in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
        "| connector, MB | " + " | ".join(f"{rss(s, 0):.0f}" for s in sizes) + " |",
        "| CDK ceiling, MB | " + " | ".join(f"{rss(s, 1):.0f}" for s in sizes) + " |",
        "| connector - ceiling, MB | " + " | ".join(f"{rss(s, 0) - rss(s, 1):+.0f}" for s in sizes) + " |",
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
        choices=(
            "slow-export",
            "resume",
            "scale",
            "enterprise",
            "widths",
            *(f"latency-{f}" for f in latency.FIGURES),
        ),
        help="run one figure alone: the slow export or the killed backfill (bench/big.py), the "
        "many-surveys figure (bench/scale.py), every stream at enterprise size (bench/enterprise.py), "
        "the throughput by record width (bench/widths.py) or one figure of wall time against the pacing "
        "bound at each latency (bench/latency.py); all but the first two and widths run only this way",
    )
    latency.add_latency_options(parser)
    parser.add_argument("--scale-surveys", type=int, default=2000, help="surveys in the scale run")
    parser.add_argument("--scale-responses", type=int, default=3, help="responses per survey there")
    parser.add_argument("--slow-surveys", type=int, default=20, help="surveys in the slow-export run")
    parser.add_argument("--slow-seconds", type=float, default=60.0, help="the slow export's server time")
    parser.add_argument(
        "--resume-responses", type=int, default=1_000_000, help="responses of the killed-backfill survey"
    )
    parser.add_argument(
        "--widths",
        default="25,75,150",
        help="comma-separated values per response for the throughput-by-width table (empty: none)",
    )
    parser.add_argument(
        "--width-responses",
        type=int,
        default=40_000,
        help="responses of the 25-value survey there (wider ones get proportionally fewer)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.responses, args.runs, args.memory_sizes, args.surveys = 20_000, 1, "10000", 8
        args.slow_surveys, args.slow_seconds, args.resume_responses = 6, 10.0, 40_000
        args.scale_surveys = 200
        args.width_responses = 8_000
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
    if args.only and args.only.startswith("latency-"):  # merged into its own table (bench/latency.py)
        figure = args.only.removeprefix("latency-")
        scaled = latency.QUICK if args.quick else latency.Sizes()
        return latency.run(
            [figure], scaled, args.latency_ms, args.latency_jitter_ms, args.output.with_name("latency.md")
        )
    if args.only:
        with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            table = f"Benchmark of {when}, `--only {args.only}`.\nMachine: {machine()}.\n"
            if args.only == "widths":
                table += widths_table(Path(tmp), args.widths, args.width_responses, args.runs)
            else:
                table += big_brand(Path(tmp), args, (args.only,))
        return write(table, args.output.with_name(f"{args.only}.md"))
    sizes = sorted({int(size) for size in args.memory_sizes.split(",") if size} | {args.responses})
    with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
        workdir = Path(tmp)
        log(f"throughput: {args.responses:,} responses, {args.runs} run(s)")
        throughput_runs = throughput(workdir, args.responses, args.runs)
        by_width = widths_table(workdir, args.widths, args.width_responses, args.runs)
        memory_runs = {args.responses: (throughput_runs.connector, throughput_runs.ceiling)}
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
    return write(report(args, throughput_runs, memory_runs, survey_runs) + by_width + big, args.output)


def write(table: str, output: Path) -> int:
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    log(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
