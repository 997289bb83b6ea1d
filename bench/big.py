"""The two big-brand figures of `make bench`: a slow export among fast ones, and a killed, resumed backfill.

1. Slow export: S surveys whose exports take 3 s on the server, one of them 60 s. Nothing can end
   before the slow export is ready and its records are out, so the lower bound is its export time
   plus its parse (the streaming time of a read of that survey alone, its export already built).
2. Resumed backfill: one survey of N responses and an export cap of N/3 records, so no fewer than 4
   windows can export it; `responses_per_export` N/8 plans 8 windows before anything fails. The read
   is SIGKILLed right after the 2nd window's STATE and resumed from the last STATE. Records emitted
   twice must stay within one window (the largest the connector logged), and peak RSS flat: compared
   with a read of a 10k survey.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import connector_args, expect, log, measure
from testkit import simulator_process
from testkit.interrupted import LiveRun, run_live

FAST_SECONDS = 3.0
RESPONSES_PER_SURVEY = 1000
WINDOW_LOG = re.compile(r"^responses: survey \S+, \[.*\): (\d+) record\(s\)$")


@dataclass
class SlowExportFigure:
    surveys: int
    slow_seconds: float
    wall: float
    slow_parse: float

    @property
    def bound(self) -> float:
        return self.slow_seconds + self.slow_parse

    def section(self) -> list[str]:
        return [
            f"**One slow export among fast ones**: {self.surveys} surveys of {RESPONSES_PER_SURVEY:,} "
            f"responses, exports of {FAST_SECONDS:g} s each except one of {self.slow_seconds:g} s, "
            "default settings, simulator rate limits on:",
            "",
            "| | wall, s | lower bound, s | wall / bound (target <= 1.2) |",
            "|---|---:|---:|---:|",
            f"| `read` of `responses` | {self.wall:.1f} | {self.bound:.1f} "
            f"({self.slow_seconds:g} s export + {self.slow_parse:.2f} s parse) "
            f"| {self.wall / self.bound:.2f}x |",
        ]


def slow_export(workdir: Path, surveys: int, slow_seconds: float) -> SlowExportFigure:
    with simulator_process(
        workdir, seed=7, surveys=surveys, responses=RESPONSES_PER_SURVEY, export_seconds=FAST_SECONDS
    ) as sim:
        sim.admin.set_faults(rate_limits=True)
        slow = sim.admin.survey_ids()[surveys // 2]
        # The slow survey's parse, alone and with no export wait: the part of the bound after 60 s.
        sim.admin.set_faults(export_seconds_by_survey={slow: 0.0})
        alone = expect(
            measure(connector_args(workdir, sim.base_url, survey_ids=[slow]), connector=True),
            RESPONSES_PER_SURVEY,
            "slow survey alone",
        )
        parse = alone.seconds - alone.first_record_seconds
        sim.admin.set_faults(export_seconds_by_survey={slow: slow_seconds})
        result = expect(
            measure(connector_args(workdir, sim.base_url), connector=True),
            surveys * RESPONSES_PER_SURVEY,
            "slow export",
        )
        log(f"  slow export: {result.seconds:.1f} s against a bound of {slow_seconds + parse:.1f} s")
        return SlowExportFigure(surveys, slow_seconds, result.seconds, parse)


@dataclass
class ResumeFigure:
    responses: int
    cap: int
    windows: int
    largest_window: int
    emitted_before_kill: int
    emitted_twice: int
    lost: int
    peak_rss_killed: float
    peak_rss_resumed: float
    peak_rss_small: float

    def section(self) -> list[str]:
        ok = self.emitted_twice <= self.largest_window and self.lost == 0
        return [
            f"**Killed and resumed backfill**: one survey of {self.responses:,} responses, exports over "
            f"{self.cap:,} records fail (at least 4 windows), SIGKILL right after the 2nd window's STATE, "
            "then a read from the last STATE:",
            "",
            "| windows exported | records before the kill | emitted twice | bound: largest window "
            "| lost | peak RSS killed / resumed / 10k survey, MB |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {self.windows} | {self.emitted_before_kill:,} | {self.emitted_twice:,} "
            f"| {self.largest_window:,} {'(met)' if ok else '(MISSED)'} | {self.lost} "
            f"| {self.peak_rss_killed:.0f} / {self.peak_rss_resumed:.0f} / {self.peak_rss_small:.0f} "
            "(bound 150) |",
        ]


def slim(message: dict[str, Any]) -> dict[str, Any]:
    """Keep a record's id only: a million whole records would not fit in the bench's memory."""
    if message.get("type") == "RECORD":
        return {"type": "RECORD", "id": message["record"]["data"]["responseId"]}
    return message


def window_sizes(run: LiveRun) -> list[int]:
    sizes = []
    for message in run.messages:
        if message.get("type") == "LOG":
            found = WINDOW_LOG.match(message["log"]["message"])
            if found:
                sizes.append(int(found.group(1)))
    return sizes


def after_second_window(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
    """A window's checkpoint carries the survey's cursor (any STATE without one is not a window's)."""
    if message.get("type") != "STATE":
        return False
    checkpoints = [m for m in seen if m.get("type") == "STATE" and m["state"]["stream"]["stream_state"]]
    return sum(1 for m in checkpoints if m["state"]["stream"]["stream_state"].get("states")) >= 2


def resumed_backfill(workdir: Path, responses: int) -> ResumeFigure:
    cap = responses // 3
    with simulator_process(workdir, seed=5, surveys=1, responses=10_000, export_seconds=0.0) as small:
        peak_small = measure(connector_args(workdir, small.base_url), connector=True).peak_rss_mb
    with simulator_process(
        workdir, seed=5, surveys=1, responses=responses, export_seconds=0.0, export_record_cap=cap
    ) as sim:
        args = connector_args(workdir, sim.base_url, responses_per_export=max(1000, responses // 8))
        killed = run_live(args, after_second_window, slim=slim, timeout=1800)
        if not killed.killed:
            raise RuntimeError("the read ended before its 2nd window: nothing was killed")
        state = killed.latest_states()
        state_file = workdir / "connector" / "resume-state.json"
        state_file.write_text(json.dumps(state))
        resumed = run_live([*args, "--state", str(state_file)], slim=slim, timeout=1800)
        if resumed.returncode != 0:
            raise RuntimeError(f"the resumed read failed: {resumed.stderr[-2000:]}")
        before = [m["id"] for m in killed.messages if m.get("type") == "RECORD"]
        after = [m["id"] for m in resumed.messages if m.get("type") == "RECORD"]
        received = set(before) | set(after)
        figure = ResumeFigure(
            responses=responses,
            cap=cap,
            windows=len(window_sizes(killed)) + len(window_sizes(resumed)),
            largest_window=max(window_sizes(killed) + window_sizes(resumed)),
            emitted_before_kill=len(before),
            emitted_twice=len(before) + len(after) - len(received),
            lost=responses - len(received),
            peak_rss_killed=killed.peak_rss_mb,
            peak_rss_resumed=resumed.peak_rss_mb,
            peak_rss_small=peak_small,
        )
        log(f"  resumed backfill: {figure}")
        return figure
