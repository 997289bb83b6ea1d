"""The parse floor: download the export zip, unzip it, `orjson.loads` each line, write one JSON line each.

Run by `bench.run` as a subprocess (`python -m bench.floor URL TOKEN`) so that it pays for process
start-up and a stdout pipe exactly like the connector does. `bench.ceiling` yields the same loop's
records through airbyte-cdk, so the two differ only by the CDK.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import orjson
import requests


def export_records(url: str, token: str) -> Iterator[dict[str, Any]]:
    """The bare loop: the zip spooled to a temporary file, each member read line by line, orjson."""
    loads = orjson.loads
    with tempfile.TemporaryFile() as spool:
        with requests.get(url, headers={"X-API-TOKEN": token}, stream=True, timeout=60) as response:
            response.raise_for_status()
            for chunk in response.iter_content(1 << 20):
                spool.write(chunk)
        spool.seek(0)
        with zipfile.ZipFile(spool) as archive:
            for member in archive.infolist():
                with archive.open(member) as stream:
                    for line in stream:
                        line = line.strip()
                        if line and line != b"{}":
                            yield loads(line)


def main(url: str, token: str) -> None:
    # Buffered whatever PYTHONUNBUFFERED says: the floor is the best plain loop, not a syscall per line.
    out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
    dumps = orjson.dumps
    for record in export_records(url, token):
        out.write(dumps(record) + b"\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
