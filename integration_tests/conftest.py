from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from integration_tests.connector import Connector


@pytest.fixture
def simulator() -> Iterator[ServerHandle]:
    """A fresh simulated brand: 3 surveys with a few hundred responses each, served over real HTTP."""
    sim = Simulator(SimulatorConfig(seed=11, surveys=3, responses_per_survey=400, export_seconds=0.2))
    with sim.serve() as server:
        yield server


@pytest.fixture
def connector(tmp_path: Path) -> Connector:
    return Connector(tmp_path / "connector")
