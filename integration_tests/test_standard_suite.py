"""The airbyte-cdk standard connector tests, driven by `acceptance-test-config.yml`, against the simulator.

`SourceTestSuiteBase` turns every config listed in `acceptance-test-config.yml` into a scenario when
pytest collects this module, but only reads a config file when a test runs. The configs that talk to
the simulator therefore live in the git-ignored `integration_tests/generated/` folder: a session
fixture starts one small simulator on a free port and writes them there before the first test of this
module, and removes them afterwards. A lock on that folder serializes concurrent pytest sessions in
the same checkout, which would otherwise point each other's configs at a simulator that has stopped.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.models import (
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalogSerializer,
)
from airbyte_cdk.test import entrypoint_wrapper
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from source_qualtrics.source import SourceQualtrics
from testkit import configure, simulator_config

# Registers `pytest_generate_tests`, which parametrizes the suite's tests with the scenarios.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION_TESTS = ROOT / "integration_tests"
GENERATED = INTEGRATION_TESTS / "generated"
ACCEPTANCE_TEST_CONFIG = ROOT / "acceptance-test-config.yml"

# Small and quick; `abnormal_state.json` and `sample_state.json` name this tenant's two survey ids.
SIMULATOR = SimulatorConfig(seed=11, surveys=2, responses_per_survey=50, export_seconds=0.05)


def load_json(path: str | Path) -> Any:
    return json.loads((ROOT / path).read_text())


def write_json(path: Path, value: Any) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(value, indent=2) + "\n")
    partial.replace(path)


def state_survey_ids(path: str | Path) -> set[str]:
    return {
        entry["partition"]["survey_id"]
        for message in load_json(path)
        if message["stream"]["stream_descriptor"]["name"] == "responses"
        for entry in message["stream"]["stream_state"]["states"]
    }


def incremental_entries() -> list[dict[str, Any]]:
    """The `incremental` section, which the CDK's scenario collection skips."""
    config = yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text())
    return list(config["acceptance_tests"].get("incremental", {}).get("tests", []))


@pytest.fixture(scope="session", autouse=True)
def simulator_configs() -> Iterator[ServerHandle]:
    """Serve the simulator and write the configs that `acceptance-test-config.yml` points at."""
    GENERATED.mkdir(exist_ok=True)
    with (GENERATED / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sim = Simulator(SIMULATOR)
        for state_file in ("integration_tests/abnormal_state.json", "integration_tests/sample_state.json"):
            assert state_survey_ids(state_file) == set(sim.survey_ids()), (
                f"{state_file} must name the simulated survey ids {sim.survey_ids()}"
            )
        written = [GENERATED / "config.json", GENERATED / "invalid_config.json"]
        with sim.serve(port=0) as server:
            write_json(written[0], simulator_config(server.base_url))
            wrong_token = load_json("integration_tests/invalid_config.json")
            write_json(written[1], {**wrong_token, "datacenter": server.base_url})
            try:
                yield server
            finally:
                for path in written:
                    path.unlink(missing_ok=True)


class TestQualtricsSource(SourceTestSuiteBase):
    """Every standard source test, for each config of `acceptance-test-config.yml`."""

    connector = SourceQualtrics
    # The repository folder is not named after the connector; the suite only uses this in messages.
    connector_name = "source-qualtrics"

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return ROOT

    # -- `incremental`: CAT's future-state check, which the CDK's suite has no counterpart for --------

    @pytest.mark.parametrize(
        "entry",
        [entry for entry in incremental_entries() if "future_state" in entry],
        ids=lambda entry: Path(entry["future_state"]["future_state_path"]).stem,
    )
    def test_read_with_future_state(self, entry: dict[str, Any]) -> None:
        """A state beyond every record (and a continuation token Qualtrics never issued) reads nothing."""
        output = self._read(
            entry["config_path"], entry["configured_catalog_path"], entry["future_state"]["future_state_path"]
        )
        assert not output.errors, output.get_formatted_error_message()
        assert output.records == [], f"{len(output.records)} record(s) read despite a future state"
        assert {m.state.stream.stream_descriptor.name for m in output.state_messages if m.state.stream} == {
            "surveys",
            "responses",
        }

    def test_read_from_sample_state(self) -> None:
        """The sample state is accepted, and no record older than its cursors comes back."""
        (entry,) = incremental_entries()
        output = self._read(
            entry["config_path"], entry["configured_catalog_path"], "integration_tests/sample_state.json"
        )
        assert not output.errors, output.get_formatted_error_message()
        assert output.records, "the sample state starts in 2024: the simulated data is newer"
        for message in output.records:
            record = message.record
            assert record is not None
            if record.stream == "surveys":
                assert record.data["lastModified"] >= "2024-01-01T00:00:00Z"
            else:
                assert (record.data["lastModifiedDate"] or record.data["recordedDate"]) >= "2024-01-01"

    @staticmethod
    def _read(config_path: str, catalog_path: str, state_path: str) -> entrypoint_wrapper.EntrypointOutput:
        return entrypoint_wrapper.read(
            SourceQualtrics(),
            load_json(config_path),
            ConfiguredAirbyteCatalogSerializer.load(load_json(catalog_path)),
            state=[AirbyteStateMessageSerializer.load(message) for message in load_json(state_path)],
        )


def test_the_acceptance_catalog_is_the_connectors_own_discover_output(discovered: dict[str, Any]) -> None:
    """The catalog file the `incremental` tests and the README name is discover's, not a hand-written one."""
    (entry,) = incremental_entries()
    expected = configure(discovered, "surveys", "responses")
    assert load_json(entry["configured_catalog_path"]) == expected, (
        "regenerate it: json.dumps(testkit.configure(<discover output>, 'surveys', 'responses'), indent=2)"
    )
