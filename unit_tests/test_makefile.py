"""`make test` installs no PyAirbyte (no release supports Python 3.13); `make demo` does."""

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


def test_make_test_installs_the_test_extra_only(tmp_path: Path) -> None:
    commands = planned_commands("test", tmp_path)
    assert "-e '.[tests]'" in commands and "pytest" in commands
    assert "demo" not in commands and "airbyte" not in commands


def test_make_demo_adds_the_demo_extra(tmp_path: Path) -> None:
    commands = planned_commands("demo", tmp_path)
    assert "-e '.[demo]'" in commands and "demo.run" in commands
