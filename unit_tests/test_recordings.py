"""The one switch that hides the shared recordings (CI's fresh-clone run relies on it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit_tests import recordings


def test_an_empty_or_none_setting_hides_the_recordings_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for hidden in ("", "none", "NONE"):
        monkeypatch.setenv(recordings.ENV_VARIABLE, hidden)
        assert recordings.recordings_dir() is None
        assert "hidden by QUALTRICS_RECORDINGS" in recordings.absent_reason()
        with pytest.raises(pytest.skip.Exception, match="hidden"):
            recordings.recording("qualtRics/anything.json")


def test_a_path_setting_points_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(recordings.ENV_VARIABLE, str(tmp_path))
    assert recordings.recordings_dir() == tmp_path
    assert recordings.recording("a/b.json") == tmp_path / "a/b.json"
    monkeypatch.setenv(recordings.ENV_VARIABLE, str(tmp_path / "missing"))
    assert recordings.recordings_dir() is None
    assert "not found at" in recordings.absent_reason() and "missing" in recordings.absent_reason()


def test_without_a_setting_the_folder_beside_the_checkout_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(recordings.ENV_VARIABLE, raising=False)
    expected = recordings.DEFAULT_LOCATION if recordings.DEFAULT_LOCATION.is_dir() else None
    assert recordings.recordings_dir() == expected
