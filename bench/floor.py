"""The parse floor: download the export zip, unzip it, `orjson.loads` each line, write one JSON line each.

Run by `bench.run` as a subprocess (`python -m bench.floor URL TOKEN`) so that it pays for process
start-up and a stdout pipe exactly like the connector does.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile

import orjson
import requests


def main(url: str, token: str) -> None:
    # Buffered whatever PYTHONUNBUFFERED says: the floor is the best plain loop, not a syscall per line.
    out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
    loads, dumps = orjson.loads, orjson.dumps
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
                            out.write(dumps(loads(line)) + b"\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
