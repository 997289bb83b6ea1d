"""Bad input files and values: one clear config_error line, no traceback, nothing read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qualtrics_simulator import ServerHandle

from testkit import Connector, configure, simulator_config


def config_error(messages: list[dict]) -> dict:  # type: ignore[type-arg]
    (error,) = [
        m["trace"]["error"] for m in messages if m.get("type") == "TRACE" and m["trace"]["type"] == "ERROR"
    ]
    assert error["failure_type"] == "config_error"
    assert not error.get("stack_trace"), "no traceback for a user's mistake"
    assert "\n" not in error["message"]
    return error


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"datacenter": "https://evil.example.com"}, "Datacenter"),
        ({"start_date": "last tuesday"}, "Start date"),
        ({"survey_ids": ["not-a-survey"]}, "SV_"),
        ({"max_concurrent_exports": 0}, "Concurrent exports"),
    ],
)
def test_a_bad_setting_is_one_line_that_says_what_to_change(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any], overrides: dict, fragment: str
) -> None:  # type: ignore[type-arg]
    run = connector.run(
        "read",
        {**simulator_config(simulator.base_url), **overrides},
        catalog=configure(discovered, "responses"),
    )
    assert run.returncode == 1
    assert fragment in config_error(run.messages)["message"]
    assert "Traceback" not in run.stderr
    assert not run.records("responses")


def test_a_malformed_state_file_is_a_config_error(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any], tmp_path: Path
) -> None:
    args = connector.args(
        "read", simulator_config(simulator.base_url), catalog=configure(discovered, "responses")
    )
    state = tmp_path / "state.json"
    state.write_text("{not json")
    run = connector.execute([*args, "--state", str(state)])
    assert run.returncode == 1 and "state file" in config_error(run.messages)["message"]
    assert "Traceback" not in run.stderr


def test_a_state_of_the_wrong_shape_is_a_config_error(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    bad = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "responses"}, "stream_state": {"states": 5}},
        }
    ]
    run = connector.run(
        "read", simulator_config(simulator.base_url), catalog=configure(discovered, "responses"), state=bad
    )
    assert "reset the stream" in config_error(run.messages)["message"]


def test_a_malformed_catalog_is_a_config_error(simulator: ServerHandle, connector: Connector) -> None:
    run = connector.run("read", simulator_config(simulator.base_url), catalog={"streams": [{"nope": 1}]})
    assert run.returncode == 1 and "catalog file" in config_error(run.messages)["message"]


def test_check_reports_a_bad_setting_in_the_connectors_words(
    simulator: ServerHandle, connector: Connector
) -> None:
    run = connector.run("check", {**simulator_config(simulator.base_url), "start_date": "last tuesday"})
    (status,) = run.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert status["connectionStatus"]["message"].startswith("Start date 'last tuesday' is not an ISO 8601")
    assert run.returncode == 0
