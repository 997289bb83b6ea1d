"""The pins of a `make lock` file (requirements/*.lock): name, version, environment marker, hashes.

Read by the lock tests (is every requirement of pyproject.toml pinned?) and by the image test (does
the image hold exactly the lock?). Only the standard library: markers stay text for the caller to
evaluate (with `packaging`, which the tests have).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
# `name==version ; marker \` opens an entry; its `--hash=sha256:...` lines follow.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;\s*(.+?))?\s*\\?$")
HASH = re.compile(r"^\s+--hash=(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    name: str  # normalised (PEP 503): lower case, runs of -_. as one -
    version: str
    marker: str | None
    hashes: tuple[str, ...]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> list[Pin]:
    pins: list[Pin] = []
    for line in path.read_text().splitlines():
        opened = PIN.match(line)
        if opened:
            name, version, marker = opened.groups()
            pins.append(Pin(normalise(name), version, marker, ()))
            continue
        digest = HASH.match(line)
        if digest and pins:
            last = pins[-1]
            pins[-1] = Pin(last.name, last.version, last.marker, (*last.hashes, digest.group(1)))
    return pins
