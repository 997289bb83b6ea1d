"""Wall time on a real network against the pacing bound (issue 24), each figure opt-in:

    make bench BENCH_ARGS="--only latency-responses"  # (a) `responses` first sync, 500 small surveys
    make bench BENCH_ARGS="--only latency-nightly"    # (b) nightly of every non-export stream
    make bench BENCH_ARGS="--only latency-first"      # (c) first sync of them at a quarter of that size
    make bench BENCH_ARGS="--only latency-skip"       # (d) `skip_unchanged_surveys`, 1% of 2,000 changed
    python -m bench.latency --figures responses,skip --surveys 50 --latency-ms 0,250  # any sizes

Qualtrics answers from a datacenter hundreds of milliseconds away; the simulator answers in
microseconds unless told (`--latency-ms`, changed at run time through its admin API). Each figure runs
the connector's CLI as users run it (paced, default config unless said) once per latency: at 250 ms
with up to 100 ms of jitter on top (a mean round trip of 300 ms, what the issue measured on a public
SaaS API), at 0 ms with none. Per run: wall time, the pacing bound (`bench.bound`: what the
connector's own budgets allow for the requests the simulator counted), their ratio, the requests, the
most requests the simulator saw in flight at once, the child's peak RSS, the 429s and the machine's
load average at the end (2 shared cores: the ratio measures waiting, so it is robust to load, the
0 ms wall time less so).

The state a measured incremental sync starts from is made by a first sync that is not measured: run
unpaced (`bench.unpaced`) at 0 ms to save the hour a paced one takes, which changes nothing in the
state it leaves. The results are merged into `bench/results/latency.md`: a figure run again replaces
its own rows and keeps the others', so figures run on different days share one table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.bound import PacingBound, pacing_bound
from bench.enterprise import (
    UNPACED,
    change_one_percent,
    default_directory,
    enterprise_brand,
    sampled_contacts,
)
from bench.measure import STATE_PREFIX, connector_args, expect, log, measure
from testkit import (
    Connector,
    SimulatorProcess,
    configure,
    fan_out_stream_names,
    latest_state_per_stream,
    simulator_config,
    simulator_process,
)

RESULTS = Path(__file__).parent / "results" / "latency.md"
FIGURES = ("responses", "nightly", "first", "skip")
JITTER_MS = 100.0
RESPONSES_PER_SURVEY = 3
EXPORT_SECONDS = 0.5  # server-side time per small export, as bench/scale.py
UNBOUNDED_TRANSACTIONS = {"contact_transactions_per_sync": 10_000_000}


@dataclass(frozen=True)
class Sizes:
    surveys: int = 2_000
    distributions: int = 20_000
    contacts: int = 100_000  # and as many transactions, as bench/enterprise.py
    responses_surveys: int = 500  # figure (a)

    def quarter(self) -> Sizes:
        return Sizes(self.surveys // 4, self.distributions // 4, self.contacts // 4, self.responses_surveys)


QUICK = Sizes(50, 500, 2_000, 50)  # `--quick`: the harness tried in minutes


@dataclass(frozen=True)
class Row:
    figure: str
    latency_ms: float
    jitter_ms: float
    seconds: float
    bound: PacingBound
    in_flight_max: int
    peak_rss_mb: float
    throttled: int
    load: float
    connector: str

    @property
    def latency(self) -> str:
        return f"{self.latency_ms:g} ms" + (f" + 0-{self.jitter_ms:g} ms" if self.jitter_ms else "")

    @property
    def ratio(self) -> float:
        return self.seconds / self.bound.seconds if self.bound.seconds else float("inf")

    def line(self) -> str:
        return (
            f"| {self.figure} | {self.latency} | {self.seconds:,.1f} | {self.bound.seconds:,.1f} "
            f"({self.bound.binding}) | {self.ratio:.2f}x | {self.bound.requests:,} | {self.in_flight_max} "
            f"| {self.peak_rss_mb:.0f} | {self.throttled:,} | {self.load:.1f} | {self.connector} |"
        )


HEADER = [
    "**Wall time on a real network against the pacing bound** (`bench/latency.py`): each figure at each "
    "simulated latency, the connector paced as users run it. Bound = the larger of all requests / 1,000 "
    "per minute and, per endpoint kind, its requests / its budget (`source_qualtrics.pacing`); in flight = "
    "the most API requests the simulator saw at once; load = the 1-minute load average at the end "
    "(2 cores shared with other work); connector = the last commit that changed `source_qualtrics/`.",
    "",
    "| figure | latency | wall, s | bound, s (budget that sets it) | wall / bound (goal <= 1.25x) "
    "| requests | in flight, most | peak RSS, MB | 429s | load | connector |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
]


class Runner:
    """Measures one connector command line per latency against one simulator."""

    def __init__(self, sim: SimulatorProcess, latencies: list[float], jitter_ms: float) -> None:
        self.sim = sim
        self.latencies = latencies
        self.jitter_ms = jitter_ms

    def each_latency(
        self, figure: str, args: Callable[[], list[str]], records: int | None = None
    ) -> Iterator[Row]:
        for latency_ms in self.latencies:
            jitter_ms = self.jitter_ms if latency_ms else 0.0
            self.sim.admin.set_faults(latency_ms=latency_ms, latency_jitter_ms=jitter_ms)
            self.sim.admin.reset_counts()
            log(f"  {figure} at {latency_ms:g} ms")
            result = measure(args(), connector=True)
            if records is not None:
                expect(result, records, figure)
            counts = self.sim.admin.request_counts()
            row = Row(
                figure,
                latency_ms,
                jitter_ms,
                result.seconds,
                pacing_bound(counts),
                counts.get("in_flight_max", 0),
                result.peak_rss_mb,
                counts.get("429", 0),
                os.getloadavg()[0],
                connector_commit(),
            )
            log("  " + row.line())
            yield row
        self.sim.admin.set_faults(latency_ms=0, latency_jitter_ms=0)


def responses_first_sync(workdir: Path, sizes: Sizes, latencies: list[float], jitter_ms: float) -> list[Row]:
    """(a) The first sync of `responses` over many small surveys, the simulator's rate limits on."""
    surveys = sizes.responses_surveys
    figure = f"(a) `responses` first sync, {surveys:,} surveys x {RESPONSES_PER_SURVEY}, rate limits on"
    with simulator_process(
        workdir,
        seed=19,
        surveys=surveys,
        responses=RESPONSES_PER_SURVEY,
        export_seconds=EXPORT_SECONDS,
        rate_limits=True,
    ) as sim:
        args = connector_args(workdir, sim.base_url)
        runner = Runner(sim, latencies, jitter_ms)
        return list(runner.each_latency(figure, lambda: args, surveys * RESPONSES_PER_SURVEY))


def non_export_catalog(connector: Connector, sim: SimulatorProcess) -> dict[str, Any]:
    discovered = connector.discover(simulator_config(sim.base_url))
    names = fan_out_stream_names(discovered)
    return configure(discovered, *names)


def unpaced_first_sync(
    connector: Connector, sim: SimulatorProcess, catalog: dict[str, Any], **settings: Any
) -> list[dict[str, Any]]:
    """The state a first sync leaves, made fast: unpaced, at 0 ms latency.

    Its output is read a line at a time and only the STATE lines are parsed: the bench process must
    stay small, since a child starts as a copy of it and its peak RSS would count in every later run's.
    """
    log("  first sync to start from (unpaced, 0 ms)")
    args = [*UNPACED, *connector.args("read", simulator_config(sim.base_url, **settings), catalog)[1:]]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
        assert process.stdout is not None
        states = latest_state_per_stream(
            orjson.loads(line)["state"] for line in process.stdout if line.startswith(STATE_PREFIX)
        )
        if process.wait() != 0:
            stderr.seek(0)
            raise RuntimeError(
                f"the unpaced first sync exited {process.returncode}: {stderr.read()[-3000:]!r}"
            )
    return states


def sizes_label(sizes: Sizes) -> str:
    return f"{sizes.surveys:,} surveys, {sizes.distributions:,} distributions, {sizes.contacts:,} contacts"


def nightly(workdir: Path, sizes: Sizes, latencies: list[float], jitter_ms: float) -> list[Row]:
    """(b) Every non-export stream's sync after 1% of everything changed, from a first sync's state."""
    figure = f"(b) nightly, every non-export stream, {sizes_label(sizes)}, 1% changed"
    connector = Connector(workdir / "connector", timeout=7200)
    with enterprise_brand(workdir, sizes.surveys, sizes.distributions, sizes.contacts) as sim:
        catalog = non_export_catalog(connector, sim)
        state = unpaced_first_sync(connector, sim, catalog, **UNBOUNDED_TRANSACTIONS)
        directory = default_directory(sim)
        contacts = sampled_contacts(sim, directory)
        change_one_percent(sim, sim.admin.survey_ids(), sizes.distributions, contacts, directory)
        config = simulator_config(sim.base_url)
        runner = Runner(sim, latencies, jitter_ms)
        return list(runner.each_latency(figure, lambda: connector.args("read", config, catalog, state)))


def first_sync(workdir: Path, sizes: Sizes, latencies: list[float], jitter_ms: float) -> list[Row]:
    """(c) The first sync of every non-export stream (at a quarter of the nightly's size: at full
    size it takes over 90 minutes at Qualtrics' own limits), default config."""
    quarter = sizes.quarter()
    figure = f"(c) first sync, every non-export stream, {sizes_label(quarter)}"
    connector = Connector(workdir / "connector", timeout=7200)
    with enterprise_brand(workdir, quarter.surveys, quarter.distributions, quarter.contacts) as sim:
        catalog = non_export_catalog(connector, sim)
        config = simulator_config(sim.base_url)
        runner = Runner(sim, latencies, jitter_ms)
        return list(runner.each_latency(figure, lambda: connector.args("read", config, catalog)))


def skip_unchanged(workdir: Path, sizes: Sizes, latencies: list[float], jitter_ms: float) -> list[Row]:
    """(d) An incremental sync of `responses` with `skip_unchanged_surveys` after 1% of the surveys
    got a new response, from a first sync's state; the simulator's rate limits on for it."""
    surveys = sizes.surveys
    figure = f"(d) `responses` with `skip_unchanged_surveys`, {surveys:,} surveys, 1% changed, rate limits on"
    connector = Connector(workdir / "connector", timeout=7200)
    with simulator_process(
        workdir, seed=19, surveys=surveys, responses=RESPONSES_PER_SURVEY, export_seconds=0.0
    ) as sim:
        discovered = connector.discover(simulator_config(sim.base_url))
        catalog = configure(discovered, "responses")
        state = unpaced_first_sync(connector, sim, catalog)
        touched = sim.admin.touch_surveys(fraction=max(0.01, 1 / surveys), add=1)
        added = sum(len(change["added"]) for change in touched.values())
        sim.admin.set_faults(export_seconds=EXPORT_SECONDS, rate_limits=True)
        config = simulator_config(sim.base_url, skip_unchanged_surveys=True)
        runner = Runner(sim, latencies, jitter_ms)
        return list(
            runner.each_latency(figure, lambda: connector.args("read", config, catalog, state), added)
        )


RUNS: dict[str, Callable[[Path, Sizes, list[float], float], list[Row]]] = {
    "responses": responses_first_sync,
    "nightly": nightly,
    "first": first_sync,
    "skip": skip_unchanged,
}


def connector_commit() -> str:
    """The last commit that changed the connector's code (`+`: it has uncommitted changes too)."""
    source = Path(__file__).parent.parent / "source_qualtrics"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, check=True).stdout

    try:
        commit = git("log", "-1", "--format=%h", "--", ".").strip()
        dirty = git("status", "--porcelain", "--", ".").strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return commit + ("+" if dirty else "")


def merged_table(existing: str, rows: list[Row]) -> str:
    """`existing` (a table this module wrote, or nothing) with the rows measured again replaced: a row
    is a figure at a latency, so a figure run at one latency keeps its rows at the others."""

    def key(line: str) -> tuple[str, str]:
        figure, latency = line.split(" | ", 2)[:2]
        return figure, latency

    new = [row.line() for row in rows]
    replaced = {key(line) for line in new}
    kept = [line for line in existing.splitlines() if line.startswith("| (") and key(line) not in replaced]
    lines = sorted([*kept, *new], key=lambda line: (key(line)[0], float(key(line)[1].split()[0])))
    return "\n".join([*HEADER, *lines]) + "\n"


def run(figures: list[str], sizes: Sizes, latencies: list[float], jitter_ms: float, output: Path) -> int:
    rows: list[Row] = []
    for name in figures:
        log(f"latency figure {name}")
        with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
            rows += RUNS[name](Path(tmp), sizes, latencies, jitter_ms)
    existing = output.read_text() if output.exists() else ""
    table = merged_table(existing, rows)
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    log(f"written to {output}")
    return 0


def latencies_arg(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def add_latency_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--latency-ms",
        type=latencies_arg,
        default=[0.0, 250.0],
        help="comma-separated simulated latencies, each figure run once at each (default 0,250)",
    )
    parser.add_argument(
        "--latency-jitter-ms",
        type=float,
        default=JITTER_MS,
        help="random extra delay up to this, on every latency but 0 (default 100: a mean of 300 ms at 250)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--figures", default=",".join(FIGURES), help=f"comma-separated, of {', '.join(FIGURES)}"
    )
    parser.add_argument("--surveys", type=int, default=Sizes.surveys, help="(b), (d); (c) takes a quarter")
    parser.add_argument("--distributions", type=int, default=Sizes.distributions, help="(b); (c) a quarter")
    parser.add_argument("--contacts", type=int, default=Sizes.contacts, help="(b); (c) a quarter")
    parser.add_argument("--responses-surveys", type=int, default=Sizes.responses_surveys, help="(a)")
    add_latency_options(parser)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    figures = [name for name in args.figures.split(",") if name]
    unknown = sorted(set(figures) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}: choose from {', '.join(FIGURES)}")
    sizes = Sizes(args.surveys, args.distributions, args.contacts, args.responses_surveys)
    return run(figures, sizes, args.latency_ms, args.latency_jitter_ms, args.output)


if __name__ == "__main__":
    sys.exit(main())
