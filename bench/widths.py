"""Throughput by record width: the connector against the CDK ceiling on responses of 25 to 150 values.

Real surveys export from about 25 to about 150 keys in each response's `values` (matrix rows,
multi-select lists, text answers, embedded data), with `labels`, `displayedFields` and
`displayedValues` growing alongside. The simulator's `--values-per-response` builds such surveys
(its default data is the narrow end, about 25). At each width, in turns like the main throughput
figure: `read` of `responses`, `read` of the survey's typed stream (`responses_<survey id>`, with
`per_survey_streams`: one column per answer field, the connector's per-field work), the CDK ceiling
and the floor, over the same export. Surveys are sized to about the same bytes at every width.
"""

from __future__ import annotations

import io
import statistics
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import requests

from bench.measure import (
    RunResult,
    ceiling_args,
    connector_args,
    expect,
    log,
    measure,
    measure_ceiling,
    stream_args,
)
from testkit import SIM_TOKEN, simulator_process

DEFAULT_WIDTH = 25  # the simulator's default data: no --values-per-response
SAMPLED_RECORDS = 1000  # records read from the export to state its real width and size


@dataclass
class WidthRuns:
    """Runs at one width, taken in turns (each round of four saw the same machine load)."""

    values: int  # asked of the simulator
    responses: int
    mean_values: float = 0.0  # measured on the export
    mean_bytes: float = 0.0
    runs: dict[str, list[RunResult]] = field(
        default_factory=lambda: {"responses": [], "typed": [], "ceiling": [], "floor": []}
    )

    def rate(self, name: str, cpu: bool = False) -> float:
        """Median records per second (per CPU-second with `cpu`) from the download on."""
        return statistics.median(_rate(run, name, cpu) for run in self.runs[name])

    def ratio(self, name: str, reference: str, cpu: bool = False) -> float:
        """Median over the rounds of name's rate / the reference's in the same round."""
        pairs = zip(self.runs[name], self.runs[reference], strict=True)
        return statistics.median(_rate(a, name, cpu) / _rate(b, reference, cpu) for a, b in pairs)

    def spread(self, name: str, reference: str) -> tuple[float, float]:
        """The lowest and highest wall-clock ratio of the rounds: how noisy the machine was."""
        pairs = zip(self.runs[name], self.runs[reference], strict=True)
        ratios = [_rate(a, name, False) / _rate(b, reference, False) for a, b in pairs]
        return min(ratios), max(ratios)


def _rate(run: RunResult, name: str, cpu: bool) -> float:
    """The floor's figures are its whole run: it starts with the download."""
    if cpu:
        return run.records / max(1e-9, run.cpu_seconds) if name == "floor" else run.from_download_cpu_rate
    return run.rate if name == "floor" else run.from_download_rate


def responses_at(values: int, base: int) -> int:
    """Responses at a width: `base` at the default width, fewer for wider ones (about the same bytes)."""
    return max(1000, base * DEFAULT_WIDTH // max(values, DEFAULT_WIDTH))


def width_throughput(workdir: Path, values: int, responses: int, runs: int) -> WidthRuns:
    from bench.run import build_export  # here: bench.run imports this module

    width = {"values_per_response": values} if values > DEFAULT_WIDTH else {}
    folder = workdir / f"width-{values}"
    with simulator_process(
        folder, seed=5, surveys=1, responses=responses, export_seconds=0.0, **width
    ) as sim:
        (survey,) = sim.admin.survey_ids()
        file_url = build_export(sim.base_url, survey)
        figures = WidthRuns(values, responses)
        figures.mean_values, figures.mean_bytes = _sample(file_url)
        args = {
            "responses": connector_args(folder, sim.base_url),
            "typed": stream_args(
                folder / "typed", sim.base_url, f"responses_{survey}", {"per_survey_streams": True}
            ),
            "ceiling": ceiling_args(folder, file_url, SIM_TOKEN),
            "floor": [sys.executable, "-m", "bench.floor", file_url, SIM_TOKEN],
        }
        for run in range(runs + 1):  # the first round is a warm-up, not counted
            results = {
                name: expect(_measure(name, command), responses, name) for name, command in args.items()
            }
            if run == 0:
                continue
            for name, result in results.items():
                figures.runs[name].append(result)
            log(
                f"  width {values} run {run}/{runs}: "
                + ", ".join(f"{name} {_rate(result, name, False):,.0f}/s" for name, result in results.items())
            )
        return figures


def _measure(name: str, command: list[str]) -> RunResult:
    if name == "ceiling":
        return measure_ceiling(command)
    return measure(command, connector=name != "floor")


def _sample(file_url: str) -> tuple[float, float]:
    """Mean `values` keys and bytes of the export's first records."""
    body = requests.get(file_url, headers={"X-API-TOKEN": SIM_TOKEN}, timeout=120).content
    with zipfile.ZipFile(io.BytesIO(body)) as archive, archive.open(archive.infolist()[0]) as member:
        lines = [line.strip() for line in member]
    records = [line for line in lines if line not in (b"", b"{}")][:SAMPLED_RECORDS]
    widths = [len(orjson.loads(line)["values"]) for line in records]
    return statistics.mean(widths), statistics.mean(len(line) for line in records)


def section(results: list[WidthRuns], runs: int) -> list[str]:
    lines = [
        "",
        f"**Throughput by record width** (`bench/widths.py`): one survey per width, medians of {runs} "
        "round(s) of four runs in turns after a warm-up round, records/s from the download on (the "
        "floor: its whole run). `responses`, and the typed per-survey stream `responses_<survey id>` "
        "(`per_survey_streams`: one column per answer field), against the CDK ceiling (target >= 90%); "
        "the same ratios per CPU-second, which other processes on the machine move far less, and the "
        "lowest and highest wall-clock ratio of the rounds:",
        "",
        "| values per response | bytes per record | responses | `responses`, records/s "
        "| typed stream, records/s | CDK ceiling, records/s | floor, records/s "
        "| **`responses` / ceiling** (rounds) | **typed / ceiling** (rounds) "
        "| per CPU-s: `responses` / ceiling | per CPU-s: typed / ceiling | ceiling / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for width in results:
        low, high = width.spread("responses", "ceiling")
        typed_low, typed_high = width.spread("typed", "ceiling")
        lines.append(
            f"| {width.mean_values:.0f} | {width.mean_bytes:,.0f} | {width.responses:,} "
            f"| {width.rate('responses'):,.0f} | {width.rate('typed'):,.0f} | {width.rate('ceiling'):,.0f} "
            f"| {width.rate('floor'):,.0f} "
            f"| **{width.ratio('responses', 'ceiling'):.0%}** ({low:.0%}-{high:.0%}) "
            f"| **{width.ratio('typed', 'ceiling'):.0%}** ({typed_low:.0%}-{typed_high:.0%}) "
            f"| {width.ratio('responses', 'ceiling', cpu=True):.0%} "
            f"| {width.ratio('typed', 'ceiling', cpu=True):.0%} | {width.ratio('ceiling', 'floor'):.0%} |"
        )
    return lines


def widths_table(workdir: Path, widths: str, base_responses: int, runs: int) -> str:
    """The section for comma-separated `widths` (values per response); empty for none."""
    results = []
    for values in [int(width) for width in widths.split(",") if width]:
        responses = responses_at(values, base_responses)
        log(f"throughput by width: {values} values per response, {responses:,} responses")
        results.append(width_throughput(workdir, values, responses, runs))
    return "\n".join(section(results, runs)) + "\n" if results else ""
