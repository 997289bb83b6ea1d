"""The shared test kit builds what the platform would: catalogs from discover, simulator flags, states."""

from __future__ import annotations

from typing import Any

import pytest

from testkit import configure, latest_state_per_stream
from testkit.simulator import cli_flags


def test_a_catalog_configures_each_stream_as_discovered(discovered: dict[str, Any]) -> None:
    catalog = configure(discovered, "responses", "users")
    responses, users = catalog["streams"]
    assert responses["stream"]["name"] == "responses" and responses["sync_mode"] == "incremental"
    assert responses["cursor_field"] == responses["stream"]["default_cursor_field"]
    assert responses["primary_key"] == [["responseId"]]
    assert responses["destination_sync_mode"] == "append_dedup"
    assert users["sync_mode"] == "full_refresh", "users cannot sync incrementally"
    assert users["destination_sync_mode"] == "overwrite"
    assert "properties" in responses["stream"]["json_schema"], "the discovered schema, not a stub"


def test_a_stream_the_connector_does_not_discover_is_refused(discovered: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="no_such_stream"):
        configure(discovered, "responses", "no_such_stream")


def test_simulator_options_become_its_cli_flags() -> None:
    assert cli_flags({"surveys": 2, "export_seconds": 0.0, "rate_limits": True, "no_blank_lines": False}) == [
        "--surveys",
        "2",
        "--export-seconds",
        "0.0",
        "--rate-limits",
    ]


def test_the_state_passed_back_is_the_last_of_each_stream() -> None:
    def state(stream: str, cursor: int) -> dict[str, Any]:
        return {"stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": cursor}}}

    messages = [state("surveys", 1), state("responses", 1), state("responses", 2)]
    assert latest_state_per_stream(messages) == [state("surveys", 1), state("responses", 2)]
