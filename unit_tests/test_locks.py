"""The locks agree with pyproject.toml: refresh them with `make lock` when these fail.

Offline: each lock is read as text and every requirement of the project (dependencies, the extras a
lock serves, the simulator's, the build backend) must be pinned by it, at a version the requirement
allows, on every Python `make test` supports. A lock that misses a requirement or pins outside it
would install something pyproject.toml does not describe.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from testkit.locks import LOCKS, ROOT, Pin, normalise, read_lock

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def pyproject(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


PROJECT = pyproject(ROOT / "pyproject.toml")
SIMULATOR = pyproject(ROOT / "simulator" / "pyproject.toml")
BUILD = PROJECT["build-system"]["requires"]
RUNTIME = PROJECT["project"]["dependencies"]
EXTRAS = PROJECT["project"]["optional-dependencies"]
DEV = [
    *RUNTIME,
    *EXTRAS["tests"],
    *SIMULATOR["project"]["dependencies"],
    *SIMULATOR["build-system"]["requires"],
]
# lock file -> what it must satisfy
INPUTS = {
    "connector.lock": [*BUILD, *RUNTIME],
    "dev.lock": [*BUILD, *DEV],
    "demo.lock": [*BUILD, *DEV, *EXTRAS["demo"]],
}


def environment(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0"}


def applies(marker: str | Marker | None, python: str) -> bool:
    if marker is None:
        return True
    return (marker if isinstance(marker, Marker) else Marker(marker)).evaluate(environment(python))


def pinned(pins: list[Pin], name: str, python: str) -> list[str]:
    """The versions the lock installs for `name` on `python` (one, if the lock is sound)."""
    return [pin.version for pin in pins if pin.name == normalise(name) and applies(pin.marker, python)]


@pytest.mark.parametrize("lock", sorted(INPUTS))
def test_every_requirement_of_pyproject_is_pinned_by_the_lock_within_its_range(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert pins, f"{lock} holds no pins"
    problems = []
    for python in PYTHONS:
        for text in INPUTS[lock]:
            requirement = Requirement(text)
            if not applies(requirement.marker, python):
                continue
            versions = pinned(pins, requirement.name, python)
            if len(versions) != 1 or not requirement.specifier.contains(versions[0], prereleases=True):
                problems.append(f"Python {python}: {text} -> {versions or 'not in the lock'}")
    assert not problems, f"{lock} disagrees with pyproject.toml (run `make lock`):\n" + "\n".join(problems)


@pytest.mark.parametrize("lock", sorted(INPUTS))
def test_every_pin_carries_hashes_and_is_pinned_once_per_python(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert all(pin.hashes for pin in pins), [pin.name for pin in pins if not pin.hashes]
    for python in PYTHONS:
        names = [pin.name for pin in pins if applies(pin.marker, python)]
        assert len(names) == len(set(names)), f"{lock}, Python {python}: a package pinned twice"


def test_make_test_runs_the_versions_the_image_ships() -> None:
    """dev.lock is resolved under connector.lock's pins: the suite tests what the image installs."""
    image, dev = read_lock(LOCKS / "connector.lock"), read_lock(LOCKS / "dev.lock")
    for python in PYTHONS:
        for pin in image:
            if applies(pin.marker, python):
                assert pinned(dev, pin.name, python) == [pin.version], (python, pin.name)


def test_the_locks_say_how_they_are_made() -> None:
    for lock in INPUTS:
        assert "#    make lock\n" in (LOCKS / lock).read_text(), lock
