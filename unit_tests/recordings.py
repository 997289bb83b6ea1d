"""Where the tests find real recorded Qualtrics traffic, and how they skip when it is not there.

The recordings live beside a development checkout (`../shared/qualtrics-recordings`), never in the
repository: a fresh clone has none, and its `make test` must still pass. Every test that reads a
recording goes through `recordings_dir()` / `recording()` (the simulator's tests too), so one switch
hides them all: `QUALTRICS_RECORDINGS=none` (or empty) makes every such test skip, which is how CI
proves the fresh-clone run without moving anything on disk. `QUALTRICS_RECORDINGS=<path>` points
elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV_VARIABLE = "QUALTRICS_RECORDINGS"
DEFAULT_LOCATION = Path(__file__).resolve().parents[2] / "shared" / "qualtrics-recordings"
_HIDDEN = ("", "none")


def recordings_dir() -> Path | None:
    """The recordings folder, or None when it is absent or hidden by `QUALTRICS_RECORDINGS`."""
    configured = os.environ.get(ENV_VARIABLE)
    if configured is not None and configured.strip().lower() in _HIDDEN:
        return None
    location = Path(configured) if configured is not None else DEFAULT_LOCATION
    return location if location.is_dir() else None


def absent_reason() -> str:
    """Why recording-based tests skip, in words a person with a fresh clone understands."""
    configured = os.environ.get(ENV_VARIABLE)
    if configured is not None and configured.strip().lower() in _HIDDEN:
        return f"recorded Qualtrics traffic hidden by {ENV_VARIABLE}={configured!r}"
    location = Path(configured) if configured is not None else DEFAULT_LOCATION
    return (
        f"recorded Qualtrics traffic not found at {location} (it is not part of the repository; "
        f"set {ENV_VARIABLE}=<folder> if you have a copy)"
    )


def recording(relative: str) -> Path:
    """One recorded file; skips the calling test when the recordings are absent or hidden.

    A file missing from a recordings folder that *is* there is an error, not a skip: the test then
    names a recording that does not exist.
    """
    root = recordings_dir()
    if root is None:
        pytest.skip(absent_reason())
    return root / relative


needs_recordings = pytest.mark.skipif(recordings_dir() is None, reason=absent_reason())
