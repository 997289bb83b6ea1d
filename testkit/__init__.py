"""One kit for running the connector's CLI and the Qualtrics simulator, shared by every caller.

Integration tests, the image test, the demo and the bench all start a simulator, build a config for
it, run `source-qualtrics spec|check|discover|read` as a real process and read its messages. They do
it through this package so each of those things is said once.

Why a top-level package beside `source_qualtrics/` and not inside the simulator: starting the
connector is not the simulator's concern, and the connector package must not ship test tooling. It
is importable wherever its callers run from the repository root: pytest puts the root on `sys.path`
(`integration_tests` is a package), and `python -m demo.run`, `python -m bench.run` and
`python -m image_tests.run_image_test` run with the root as the current directory. It uses the
standard library and the simulator's public API only, so the image test stays free of third-party
packages.

In-process simulators need nothing from here: `Simulator(SimulatorConfig(...)).serve()` already is
one call. `simulator_process` is the out-of-process form (its CLI, a ready file, cleanup).
"""

from testkit.catalog import EXPORT_FED_STREAMS, configure, fan_out_stream_names
from testkit.connector import CLI, Connector, Run, latest_state_per_stream, parse_lines
from testkit.simulator import (
    CAPPED_SURVEY,
    SIM_TOKEN,
    SimulatorProcess,
    capped_survey,
    simulator_config,
    simulator_process,
)

__all__ = [
    "CAPPED_SURVEY",
    "CLI",
    "EXPORT_FED_STREAMS",
    "SIM_TOKEN",
    "Connector",
    "Run",
    "SimulatorProcess",
    "capped_survey",
    "configure",
    "fan_out_stream_names",
    "latest_state_per_stream",
    "parse_lines",
    "simulator_config",
    "simulator_process",
]
