"""Runs the installed `source-qualtrics` CLI as a real subprocess, the way Airbyte runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("source-qualtrics"))
SIM_TOKEN = "sim-token"


def simulator_config(base_url: str, token: str = SIM_TOKEN, **extra: Any) -> dict[str, Any]:
    return {"datacenter": base_url, "credentials": {"auth_type": "api_token", "api_token": token}, **extra}


def configured_catalog(*streams: str, sync_mode: str = "incremental") -> dict[str, Any]:
    """A configured catalog as the platform would send it, from the connector's own discover output."""
    schemas = {
        "surveys": ("id", "lastModified"),
        "responses": ("responseId", "lastModifiedDate"),
    }
    entries = []
    for name in streams:
        key, cursor = schemas[name]
        entries.append(
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": [cursor],
                    "source_defined_primary_key": [[key]],
                },
                "sync_mode": sync_mode,
                "cursor_field": [cursor],
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "primary_key": [[key]],
            }
        )
    return {"streams": entries}


@dataclass
class Run:
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    raw_stdout: str = field(repr=False, default="")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream]

    def states(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["state"]["stream"]["stream_state"]
            for m in self.of_type("STATE")
            if m["state"]["stream"]["stream_descriptor"]["name"] == stream
        ]

    def state_messages(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]


class Connector:
    """Writes config/catalog/state files into a folder and runs the CLI on them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)

    def _file(self, name: str, value: Any) -> str:
        path = self.workdir / name
        path.write_text(json.dumps(value))
        return str(path)

    def args(
        self,
        command: str,
        config: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None,
        state: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        args = [CLI, command]
        if config is not None:
            args += ["--config", self._file("config.json", config)]
        if catalog is not None:
            args += ["--catalog", self._file("catalog.json", catalog)]
        if state is not None:
            args += ["--state", self._file("state.json", state)]
        return args

    def run(self, command: str, config: dict[str, Any] | None = None, **kwargs: Any) -> Run:
        completed = subprocess.run(
            self.args(command, config, **kwargs), capture_output=True, text=True, timeout=600, check=False
        )
        return Run(
            completed.returncode, list(parse_lines(completed.stdout)), completed.stderr, completed.stdout
        )


def parse_lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)
