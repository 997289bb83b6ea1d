"""Shared fixtures: an in-process simulator served over real HTTP, and an export helper."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from unit_tests.recordings import needs_recordings, recordings_dir  # noqa: F401  (re-exported to the tests)

# Real recorded Qualtrics traffic, kept beside the repository (never inside it); absent on a fresh clone
# or hidden by QUALTRICS_RECORDINGS=none. Tests that read it are marked `needs_recordings`.
RECORDINGS = recordings_dir() or Path("recordings-absent")
HEADERS = {"X-API-TOKEN": "sim-token"}


@dataclass
class Export:
    """Everything one export round trip produced."""

    start: dict[str, Any]
    polls: list[dict[str, Any]] = field(default_factory=list)
    response: requests.Response | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # zip members (or the raw body), in order

    @property
    def member(self) -> str:
        return next(iter(self.files), "")

    @property
    def raw(self) -> bytes:
        return next(iter(self.files.values()), b"")

    @property
    def final(self) -> dict[str, Any]:
        return self.polls[-1]["result"]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of every file, in order."""
        return [record for name in self.files for record in self.records_of(name)]

    def records_of(self, name: str) -> list[dict[str, Any]]:
        raw = self.files[name]
        if name.endswith(".json"):
            return list(json.loads(raw)["responses"])
        return [json.loads(line) for line in raw.splitlines() if line.strip() and line.strip() != b"{}"]


def run_export(base_url: str, survey_id: str, body: dict[str, Any], download: bool = True) -> Export:
    start = requests.post(f"{base_url}/surveys/{survey_id}/export-responses", json=body, headers=HEADERS)
    assert start.status_code == 200, start.text
    export = Export(start=start.json())
    progress_id = export.start["result"]["progressId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        poll = requests.get(f"{base_url}/surveys/{survey_id}/export-responses/{progress_id}", headers=HEADERS)
        assert poll.status_code == 200, poll.text
        export.polls.append(poll.json())
        if poll.json()["result"]["status"] != "inProgress":
            break
        time.sleep(0.02)
    if download and export.final["status"] == "complete":
        url = f"{base_url}/surveys/{survey_id}/export-responses/{export.final['fileId']}/file"
        export.response = requests.get(url, headers=HEADERS)
        assert export.response.status_code == 200
        if body.get("compress", True):
            with zipfile.ZipFile(io.BytesIO(export.response.content)) as archive:
                export.files = {name: archive.read(name) for name in archive.namelist()}
        else:
            export.files = {"raw." + body["format"]: export.response.content}
    return export


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(seed=7, surveys=3, responses_per_survey=500, export_seconds=0.05)


@pytest.fixture
def sim(config: SimulatorConfig) -> Simulator:
    return Simulator(config)


@pytest.fixture
def server(sim: Simulator) -> Iterator[ServerHandle]:
    with sim.serve(port=0) as handle:
        yield handle


@pytest.fixture
def survey_id(sim: Simulator) -> str:
    return sim.survey_ids()[0]
