"""The many-surveys figure (issue 19): a brand of thousands of small surveys, simulator rate limits on.

    make bench BENCH_ARGS="--only scale"                      # 2,000 surveys x 3 responses (> 1 h today)
    make bench BENCH_ARGS="--only scale --scale-surveys 200"  # a quick try (~8 min today)
    python -m bench.scale --surveys 2000 --parts first,resume --output /tmp/scale.md  # some parts only

One simulator (`--rate-limits`: export starts and file downloads 100/min each, the brand 3,000/min),
then `source-qualtrics read` of `responses` (incremental, catalog from discover) as a subprocess:

1. First sync from no state: wall time against its lower bound, exports needed / export-start rpm
   (one export per survey at least; the simulator's bucket also admits a first burst of `rpm` starts,
   so a sync can beat the bound by up to a minute); STATE messages, all STATE bytes written against
   the final STATE's bytes; the child's peak RSS.
2. `--changed` of the surveys (1%) get a new response each (`POST /__admin/surveys/touch`), then an
   incremental sync from the first sync's final STATE, once with the default config and once with
   `skip_unchanged_surveys: true` (both from the same STATE, so they see the same changes): wall
   time, export jobs started, API requests by kind (the simulator's request counts).
3. A first sync SIGKILLed at the first STATE after a quarter of the responses, and a read resumed from
   the last STATE it wrote: responses lost (admin ground truth against every id emitted) and
   responses emitted twice.

STATE bytes are counted on the connector's stdout lines, never parsed (a quadratic state is gigabytes).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from qualtrics_simulator.admin_client import AdminClient
from qualtrics_simulator.config import DEFAULT_RATE_LIMITS
from qualtrics_simulator.routes import EXPORT_FILE, EXPORT_POLL, EXPORT_START, EXPORTS_STARTED

from bench.measure import connector_args, log
from testkit import simulator_process

RESULTS = Path(__file__).parent / "results" / "scale.md"
RECORD = b'{"type":"RECORD"'
STATE = b'{"type":"STATE"'
# Request kinds worth a column; the rest are summed as "other".
KINDS = (
    ("GET surveys", "list"),
    ("GET surveys/{id}", "survey"),
    (EXPORT_START, "export start"),
    (EXPORT_POLL, "poll"),
    (EXPORT_FILE, "file"),
)


@dataclass
class Sync:
    """One connector run as the platform sees it: ids emitted, STATE lines by size, the last STATE."""

    label: str
    wall: float = 0.0
    ids: list[str] = field(default_factory=list)
    state_sizes: list[int] = field(default_factory=list)
    last_state: bytes = b""
    peak_rss_mb: float = 0.0
    returncode: int = 0
    killed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    stderr: str = ""

    @property
    def state_bytes(self) -> int:
        return sum(self.state_sizes)

    @property
    def final_state_bytes(self) -> int:
        return self.state_sizes[-1] if self.state_sizes else 0

    def state(self) -> list[dict[str, Any]]:
        """What a platform passes back as `--state`: the last STATE (one stream is selected)."""
        return [orjson.loads(self.last_state)["state"]] if self.last_state else []

    def requests(self) -> str:
        """API requests by kind, with the 429s and the export jobs the simulator accepted."""
        named = {key for key, _ in KINDS}
        other = sum(
            n
            for kind, n in self.counts.items()
            if kind not in named and " " in kind and not kind[0].isdigit() and kind != EXPORTS_STARTED
        )
        parts = [f"{label} {self.counts.get(kind, 0):,}" for kind, label in KINDS]
        return ", ".join([*parts, f"other {other:,}", f"429s {self.counts.get('429', 0):,}"])


def read(label: str, args: list[str], admin: AdminClient, kill_after: int | None = None) -> Sync:
    """Run the connector to its end (or SIGKILL it at the first STATE once `kill_after` records are out)."""
    sync = Sync(label)
    admin.reset_counts()
    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if not line.endswith(b"\n"):
                    continue  # cut short by the kill: the platform drops it too
                if line.startswith(RECORD):
                    sync.ids.append(orjson.loads(line)["record"]["data"]["responseId"])
                elif line.startswith(STATE):
                    sync.state_sizes.append(len(line))
                    sync.last_state = line
                    if kill_after is not None and not sync.killed and len(sync.ids) >= kill_after:
                        process.send_signal(signal.SIGKILL)
                        sync.killed = True
        except BaseException:
            process.kill()
            raise
        finally:
            _, status, usage = os.wait4(process.pid, 0)
            sync.wall = time.perf_counter() - began
            sync.returncode = os.waitstatus_to_exitcode(status)
            sync.peak_rss_mb = usage.ru_maxrss / 1024.0
        stderr.seek(0)
        sync.stderr = stderr.read().decode("utf-8", "replace")[-3000:]
    sync.counts = admin.request_counts()
    if sync.returncode != 0 and not sync.killed:
        raise RuntimeError(f"{label}: the connector exited {sync.returncode}\n{sync.stderr}")
    log(
        f"  {label}: {sync.wall:.1f} s, {len(sync.ids):,} records, {len(sync.state_sizes):,} STATE "
        f"({sync.state_bytes / 1e6:.1f} MB), peak RSS {sync.peak_rss_mb:.0f} MB, {sync.requests()}"
    )
    return sync


def with_state(args: list[str], workdir: Path, name: str, state: list[dict[str, Any]]) -> list[str]:
    path = workdir / f"{name}-state.json"
    path.write_bytes(orjson.dumps(state))
    return [*args, "--state", str(path)]


@dataclass
class Brand:
    """The simulated brand the figures describe."""

    surveys: int
    responses: int
    export_rpm: int

    @property
    def bound(self) -> float:
        """First-sync lower bound: one export per survey at the export-start limit."""
        return self.surveys / self.export_rpm * 60.0

    def heading(self, truth: int) -> list[str]:
        return [
            f"**Ten thousand surveys, scaled down**: {self.surveys:,} surveys x {self.responses} responses "
            f"({truth:,} in all), simulator rate limits on (export starts {self.export_rpm}/min), "
            "`read` of `responses` with the default config unless said.",
        ]


def first_section(brand: Brand, first: Sync, lost: int) -> list[str]:
    ratio = first.state_bytes / max(1, first.final_state_bytes)
    return [
        "",
        "| first sync | wall, s | bound, s (exports / start rpm) | wall / bound (goal <= 1.1) "
        "| STATE messages | STATE written, MB | final STATE, kB | written / final (goal <= 10) "
        "| peak RSS, MB (goal <= 150) | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| from no state | {first.wall:.1f} | {brand.bound:.0f} | {first.wall / brand.bound:.2f}x "
        f"| {len(first.state_sizes):,} | {first.state_bytes / 1e6:.1f} "
        f"| {first.final_state_bytes / 1e3:.1f} | {ratio:.0f}x | {first.peak_rss_mb:.0f} | {lost} |",
    ]


def incremental_section(brand: Brand, touched: int, added: set[str], syncs: list[Sync]) -> list[str]:
    return [
        "",
        f"Incremental sync after {touched} surveys ({touched / brand.surveys:.0%}) got one new response "
        f"each ({len(added)} new responses), from the first sync's final STATE:",
        "",
        "| config | wall, s | records | missed | export jobs started | STATE messages "
        "| STATE written, MB | API requests by kind |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *(
            f"| {sync.label} | {sync.wall:.1f} | {len(sync.ids):,} | {len(added - set(sync.ids))} "
            f"| {sync.counts.get(EXPORTS_STARTED, 0):,} | {len(sync.state_sizes):,} "
            f"| {sync.state_bytes / 1e6:.1f} | {sync.requests()} |"
            for sync in syncs
        ),
    ]


def resume_section(killed: Sync, resumed: Sync, truth: set[str]) -> list[str]:
    before, after = set(killed.ids), set(resumed.ids)
    twice = len(killed.ids) + len(resumed.ids) - len(before | after)
    return [
        "",
        "A first sync SIGKILLed at its first STATE after a quarter of the responses, then resumed "
        "from the last STATE it wrote:",
        "",
        "| killed after, s | records before the kill | resumed, s | records after | lost "
        "| emitted twice | peak RSS killed / resumed, MB |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {killed.wall:.1f} | {len(killed.ids):,} | {resumed.wall:.1f} | {len(resumed.ids):,} "
        f"| {len(truth - before - after)} | {twice:,} "
        f"| {killed.peak_rss_mb:.0f} / {resumed.peak_rss_mb:.0f} |",
    ]


PARTS = ("first", "incremental", "resume")


def scale(
    workdir: Path,
    surveys: int,
    responses: int,
    changed: float,
    parts: tuple[str, ...] = PARTS,
    seed: int = 19,
) -> list[str]:
    """The figures of `parts` against one simulator, as markdown lines; each section is also logged
    the moment it is known, so a run stopped half-way still says what it measured.
    `incremental` needs `first` (it starts from that sync's final STATE)."""
    brand = Brand(surveys, responses, DEFAULT_RATE_LIMITS["export_start"])
    with simulator_process(
        workdir, seed=seed, surveys=surveys, responses=responses, export_seconds=0.5, rate_limits=True
    ) as sim:
        admin = sim.admin
        truth = {rid for ids in sim.response_ids().values() for rid in ids}
        lines = brand.heading(len(truth))
        args = connector_args(workdir, sim.base_url)

        def add(section: list[str]) -> None:
            lines.extend(section)
            log("\n".join(section))

        if "first" in parts or "incremental" in parts:
            first = read("first sync", args, admin)
            add(first_section(brand, first, len(truth - set(first.ids))))
        if "incremental" in parts:
            touched = admin.touch_surveys(fraction=changed, add=1)
            added = {rid for change in touched.values() for rid in change["added"]}
            state = first.state()
            default = read("default", with_state(args, workdir, "first", state), admin)
            skip_args = connector_args(workdir, sim.base_url, skip_unchanged_surveys=True)
            skip = read("skip_unchanged_surveys", with_state(skip_args, workdir, "first", state), admin)
            add(incremental_section(brand, len(touched), added, [default, skip]))
        if "resume" in parts:
            truth = {rid for ids in sim.response_ids().values() for rid in ids}
            killed = read("killed first sync", args, admin, kill_after=len(truth) // 4)
            if not killed.killed:
                raise RuntimeError("the first sync ended before a quarter of its records: nothing was killed")
            resumed = read("resumed", with_state(args, workdir, "killed", killed.state()), admin)
            add(resume_section(killed, resumed, truth))
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--surveys", type=int, default=2000)
    parser.add_argument("--responses", type=int, default=3, help="responses per survey")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of surveys changed")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated, of first, incremental (runs first too), resume; default all",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    parts = tuple(part for part in args.parts.split(",") if part)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}: choose from {', '.join(PARTS)}")
    with tempfile.TemporaryDirectory(prefix="qualtrics-bench-") as tmp:
        lines = scale(Path(tmp), args.surveys, args.responses, args.changed, parts)
    from bench.run import machine  # here, not at the top: bench.run imports this module

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = [f"Benchmark of {when}, `python -m bench.scale --surveys {args.surveys} --parts {args.parts}`."]
    head.append(f"Machine: {machine()}.")
    table = "\n".join([*head, "", *lines]) + "\n"
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
