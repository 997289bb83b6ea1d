from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock as requests_mock_module

from source_qualtrics.export import ExportTiming
from source_qualtrics.source import SourceQualtrics


@pytest.fixture
def source() -> SourceQualtrics:
    """A source whose retries and polls never sleep, so tests run in milliseconds."""
    return SourceQualtrics(sleep=lambda _seconds: None, export_timing=ExportTiming(first_poll_delay=0.0))


@pytest.fixture
def api() -> Iterator[requests_mock_module.Mocker]:
    with requests_mock_module.Mocker() as mocker:
        yield mocker
