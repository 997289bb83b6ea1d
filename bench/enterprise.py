"""`make bench BENCH_ARGS="--only enterprise"`: every stream at enterprise size, first sync and nightly.

A simulator with S surveys, D distributions (send dates over 3 years), C contacts and C transactions
serves one `read` per stream (each stream alone, so its requests are its own), counted with the admin
API. Then 1% of everything changes (new distributions, opens on recent ones, new transactions in one
batch) and each stream syncs again from the state its first sync left.

The connector runs as a subprocess through airbyte-cdk's `launch`, with its client's pacing switched
off (`bench.unpaced`): a first sync of 20,000 histories takes 74 minutes at Qualtrics' 300/minute, so
wall time here is the unpaced time, and the time at the connector's default pace is computed from the
requests: the larger of all requests / 1,000 per minute and history requests / 270 per minute.
The response-export streams are another figure's (`bench/run.py`) and are left out.
"""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import log
from testkit import (
    Connector,
    SimulatorProcess,
    configure,
    fan_out_stream_names,
    simulator_config,
    simulator_process,
)

HISTORY = "GET distributions/{id}/history"
DEFAULT_PACE = 1000.0
HISTORY_PACE = 270.0
UNPACED = [sys.executable, "-m", "bench.unpaced"]


@dataclass
class StreamFigure:
    requests: int
    history: int
    seconds: float
    records: int

    @property
    def paced_minutes(self) -> float:
        return max(self.requests / DEFAULT_PACE, self.history / HISTORY_PACE)


@dataclass
class EnterpriseFigure:
    surveys: int
    distributions: int
    contacts: int
    first: dict[str, StreamFigure] = field(default_factory=dict)
    nightly: dict[str, StreamFigure] = field(default_factory=dict)
    completion: StreamFigure | None = None

    def section(self) -> list[str]:
        lines = [
            f"**Every stream at enterprise size**: {self.surveys:,} surveys, {self.distributions:,} "
            f"distributions (send dates over 3 years), {self.contacts:,} contacts and as many transactions; "
            "each stream read alone; nightly = after 1% changed. Time at the default pace = the larger of "
            "requests / 1,000 per minute and history requests / 270 per minute (wall time is unpaced).",
            "",
            "| stream | first: requests | first: min at default pace | first: wall s (unpaced) "
            "| nightly: requests | nightly: min at default pace | nightly: wall s (unpaced) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, first in self.first.items():
            night = self.nightly[name]
            lines.append(
                f"| `{name}` | {first.requests:,} | {first.paced_minutes:.1f} | {first.seconds:.1f} "
                f"| {night.requests:,} | {night.paced_minutes:.1f} | {night.seconds:.1f} |"
            )
        total_first = sum(f.paced_minutes for f in self.first.values())
        total_night = sum(f.paced_minutes for f in self.nightly.values())
        lines += [
            f"| **all of them** | {sum(f.requests for f in self.first.values()):,} | {total_first:.1f} "
            f"| {sum(f.seconds for f in self.first.values()):.0f} "
            f"| {sum(f.requests for f in self.nightly.values()):,} | **{total_night:.1f}** "
            f"| {sum(f.seconds for f in self.nightly.values()):.0f} |",
        ]
        if self.completion is not None:
            lines += [
                "",
                f"`contact_transactions`' first pass is bounded (5,000 contacts a sync); the rest of it "
                f"took {self.completion.requests:,} requests ({self.completion.paced_minutes:.0f} min at the "
                "default pace, spread over the following syncs), and the nightly figure above is after it.",
            ]
        return lines


def read(
    connector: Connector, sim: SimulatorProcess, catalog: dict[str, Any], state: Any, **settings: Any
) -> tuple[StreamFigure, Any]:
    sim.admin.reset_counts()
    started = time.monotonic()
    run = connector.execute(
        [*UNPACED, *connector.args("read", simulator_config(sim.base_url, **settings), catalog, state)[1:]]
    )
    seconds = time.monotonic() - started
    if run.returncode != 0:
        raise RuntimeError(f"read failed\n{run.tail()}")
    counts = sim.admin.request_counts()
    kinds = {k: v for k, v in counts.items() if not k.isdigit() and k != "unknown"}
    records = len(run.of_type("RECORD"))
    return StreamFigure(sum(kinds.values()), counts.get(HISTORY, 0), seconds, records), run.latest_states()


def change_one_percent(
    sim: SimulatorProcess, surveys: list[str], distributions: int, contacts: list[str], directory: str
) -> None:
    """1% of distributions new (and 1% opened), 1% of contacts with a new transaction (one batch)."""
    added = [
        sim.admin.add_distribution(surveys[i % len(surveys)]) for i in range(max(1, distributions // 100))
    ]
    for distribution_id in added[: max(1, len(added) // 2)]:
        sim.admin.open_email(distribution_id)
    sim.admin.add_transactions(directory, contacts[: max(1, len(contacts) // 100)])


def enterprise_brand(
    workdir: Path, surveys: int, distributions: int, contacts: int
) -> AbstractContextManager[SimulatorProcess]:
    """The simulated brand: 2 responses a survey, as many transactions as contacts."""
    return simulator_process(
        workdir,
        seed=13,
        surveys=surveys,
        responses=2,
        in_progress=0,
        contacts=contacts,
        distributions=distributions,
        transactions=contacts,
    )


def enterprise(workdir: Path, surveys: int, distributions: int, contacts: int) -> EnterpriseFigure:
    figure = EnterpriseFigure(surveys, distributions, contacts)
    connector = Connector(workdir / "connector", timeout=7200)
    with enterprise_brand(workdir, surveys, distributions, contacts) as sim:
        discovered = connector.discover(simulator_config(sim.base_url))
        names = fan_out_stream_names(discovered)
        states: dict[str, Any] = {}
        for name in names:
            log(f"  first sync: {name}")
            figure.first[name], states[name] = read(connector, sim, configure(discovered, name), None)
            log(f"    {figure.first[name].requests:,} requests, {figure.first[name].seconds:.1f} s")
        name = "contact_transactions"
        log("  completing contact_transactions' first pass")
        figure.completion, states[name] = read(
            connector,
            sim,
            configure(discovered, name),
            states[name],
            contact_transactions_per_sync=10_000_000,
        )
        survey_ids = sim.admin.survey_ids()
        directory = default_directory(sim)
        change_one_percent(sim, survey_ids, distributions, sampled_contacts(sim, directory), directory)
        for name in names:
            log(f"  nightly: {name}")
            figure.nightly[name], _ = read(connector, sim, configure(discovered, name), states[name])
            log(f"    {figure.nightly[name].requests:,} requests, {figure.nightly[name].seconds:.1f} s")
    return figure


def default_directory(sim: SimulatorProcess) -> str:
    import json
    import urllib.request

    request = urllib.request.Request(sim.base_url + "/directories", headers={"X-API-TOKEN": "sim-token"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["result"]["elements"][0]["directoryId"])


def sampled_contacts(sim: SimulatorProcess, directory: str) -> list[str]:
    """Every 7th contact of the default directory (read through the API, as a client would)."""
    import json
    import urllib.request

    found: list[str] = []
    url: str | None = sim.base_url + f"/directories/{directory}/contacts"
    while url:
        request = urllib.request.Request(url, headers={"X-API-TOKEN": "sim-token"})
        with urllib.request.urlopen(request, timeout=30) as response:
            result = json.loads(response.read())["result"]
        found += [e["contactId"] for e in result["elements"]]
        url = result.get("nextPage")
    return found[::7]
