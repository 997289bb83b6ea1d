"""Running the connector in-process through the CDK's entrypoint, the way the platform would."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_qualtrics.source import SourceQualtrics


def catalog(*streams: str, sync_mode: SyncMode = SyncMode.incremental) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in streams:
        builder.with_stream(name, sync_mode)
    return builder.build()


def run_check(source: SourceQualtrics, config: dict[str, Any]) -> EntrypointOutput:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_text(json.dumps(config))
        return _run_command(source, ["check", "--config", str(path)])


def run_read(
    source: SourceQualtrics,
    config: dict[str, Any],
    *streams: str,
    state: dict[str, Any] | None = None,
    sync_mode: SyncMode = SyncMode.incremental,
    expect_failure: bool = False,
) -> EntrypointOutput:
    messages: list[AirbyteStateMessage] | None = None
    if state is not None:
        builder = StateBuilder()
        for name, value in state.items():
            builder.with_stream_state(name, value)
        messages = builder.build()
    return read(
        source, config, catalog(*streams, sync_mode=sync_mode), messages, expecting_exception=expect_failure
    )


def state_values(output: EntrypointOutput) -> list[dict[str, Any]]:
    """Each STATE message's stream state as a plain dict, in order."""
    values = []
    for message in output.state_messages:
        blob = message.state.stream.stream_state  # type: ignore[union-attr]
        values.append(blob.__dict__ if hasattr(blob, "__dict__") else dict(blob))
    return values


def cursor_of(state: dict[str, Any], survey_id: str) -> dict[str, Any] | None:
    for entry in state.get("states", []):
        if entry["partition"]["survey_id"] == survey_id:
            return entry["cursor"]
    return None
