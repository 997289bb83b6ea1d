from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from testkit import Connector, simulator_config


@pytest.fixture
def simulator() -> Iterator[ServerHandle]:
    """A fresh simulated brand: 3 surveys with a few hundred responses each, served over real HTTP."""
    sim = Simulator(SimulatorConfig(seed=11, surveys=3, responses_per_survey=400, export_seconds=0.2))
    with sim.serve() as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerHandle]]:
    """Start simulators with these settings (seed 14 and 0.2 s exports unless given); each is stopped
    when the test ends."""
    handles: list[ServerHandle] = []

    def start(**settings: Any) -> ServerHandle:
        handle = Simulator(SimulatorConfig(**{"seed": 14, "export_seconds": 0.2, **settings})).serve()
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def connector(tmp_path: Path) -> Connector:
    return Connector(tmp_path / "connector")


@pytest.fixture(scope="session")
def discovered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The installed CLI's `discover` output for a default config, once per session.

    With a default config discover describes declared streams and calls no API, so one run serves
    every test; tests of config-dependent catalogs (per-survey streams) run their own discover.
    """
    with Simulator(SimulatorConfig(surveys=1, responses_per_survey=1)).serve() as server:
        return Connector(tmp_path_factory.mktemp("discover")).discover(simulator_config(server.base_url))
