"""The connector's CLI run as a real process, the way Airbyte runs it, and its messages read back."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The console script installed beside this interpreter (the repository's venv).
CLI = str(Path(sys.executable).with_name("source-qualtrics"))


def parse_lines(text: str) -> Iterator[dict[str, Any]]:
    """The Airbyte messages of a connector's stdout (every line that is a JSON object)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)


def latest_state_per_stream(state_messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last STATE of each stream: what the platform passes back as `--state` for the next sync."""
    latest: dict[str, dict[str, Any]] = {}
    for message in state_messages:
        latest[message["stream"]["stream_descriptor"]["name"]] = message
    return list(latest.values())


@dataclass
class Run:
    """One finished CLI run: its exit code, its parsed messages and both output streams."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    raw_stdout: str = field(repr=False, default="")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream]

    def states(self, stream: str) -> list[dict[str, Any]]:
        """The `stream_state` of each STATE of one stream, in order."""
        return [
            m["state"]["stream"]["stream_state"]
            for m in self.of_type("STATE")
            if m["state"]["stream"]["stream_descriptor"]["name"] == stream
        ]

    def state_messages(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    def latest_states(self) -> list[dict[str, Any]]:
        return latest_state_per_stream(self.state_messages())

    def catalog(self) -> dict[str, Any]:
        """The catalog a `discover` run printed."""
        catalogs = self.of_type("CATALOG")
        if self.returncode != 0 or len(catalogs) != 1:
            raise RuntimeError(f"discover did not print one catalog\n{self.tail()}")
        return dict(catalogs[0]["catalog"])

    def tail(self) -> str:
        """The end of both outputs, for a failure message."""
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.raw_stdout[-1500:]}\n"
            f"--- stderr ---\n{self.stderr[-3000:]}"
        )


class Connector:
    """Writes config, catalog and state files into `workdir` and runs the connector on them.

    `entrypoint` is the command that starts the connector: the installed console script by default,
    or e.g. `buildah run ... -- <image entrypoint>` for an image. When the connector sees `workdir`
    mounted elsewhere, `mounted_at` is that path, and the file arguments name it.
    """

    def __init__(
        self,
        workdir: Path,
        entrypoint: Sequence[str] = (CLI,),
        *,
        mounted_at: str | None = None,
        timeout: float = 600,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.workdir = workdir
        self.entrypoint = list(entrypoint)
        self.mounted_at = mounted_at
        self.timeout = timeout
        self.echo = echo
        workdir.mkdir(parents=True, exist_ok=True)

    def _file(self, name: str, value: Any) -> str:
        path = self.workdir / name
        path.write_text(json.dumps(value))
        path.chmod(0o644)  # an image may run the connector as another, non-root user
        return f"{self.mounted_at}/{name}" if self.mounted_at else str(path)

    def args(
        self,
        command: str,
        config: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None,
        state: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        """The full command line of one run, its files written."""
        args = [*self.entrypoint, command]
        if config is not None:
            args += ["--config", self._file("config.json", config)]
        if catalog is not None:
            args += ["--catalog", self._file("catalog.json", catalog)]
        if state is not None:
            args += ["--state", self._file("state.json", state)]
        return args

    def run(
        self,
        command: str,
        config: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None,
        state: list[dict[str, Any]] | None = None,
    ) -> Run:
        return self.execute(self.args(command, config, catalog, state))

    def execute(self, args: list[str]) -> Run:
        """Run a command line (usually from `args`, perhaps with more options) to its end."""
        if self.echo is not None:
            self.echo(shlex.join(args))
        completed = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout, check=False)
        return Run(
            completed.returncode, list(parse_lines(completed.stdout)), completed.stderr, completed.stdout
        )

    def discover(self, config: dict[str, Any]) -> dict[str, Any]:
        """The catalog the connector discovers with this config."""
        return self.run("discover", config).catalog()
