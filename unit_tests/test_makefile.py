"""`make test` installs no PyAirbyte (no release supports Python 3.13); `make demo` does. Both install
a hash-checked lock and then the project's own packages without resolving anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned_commands(target: str, tmp_path: Path) -> str:
    """What make would run for `target` in a venv that does not exist yet (nothing is executed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_make_test_installs_the_dev_lock_only(tmp_path: Path) -> None:
    commands = planned_commands("test", tmp_path)
    assert "--require-hashes -r requirements/dev.lock" in commands and "pytest" in commands
    assert "--no-deps --no-build-isolation -e ./simulator -e ." in commands
    assert "demo" not in commands and "airbyte" not in commands


def test_make_demo_adds_the_demo_lock(tmp_path: Path) -> None:
    commands = planned_commands("demo", tmp_path)
    assert "--require-hashes -r requirements/demo.lock" in commands and "demo.run" in commands


def test_no_install_resolves_dependencies(tmp_path: Path) -> None:
    """Every pip install of make test / make demo is a hash-checked lock or a --no-deps install."""
    for target in ("test", "demo"):
        installs = [line for line in planned_commands(target, tmp_path).splitlines() if " install " in line]
        for line in installs:
            assert "--require-hashes -r requirements/" in line or "--no-deps" in line or "pip==" in line, line
