"""What one sync's streams share, read from several threads at once (the export scheduler's workers)."""

from __future__ import annotations

import threading
from typing import Any

import requests_mock

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import parse_config
from source_qualtrics.sync import SyncContext
from unit_tests.builders import BASE_URL, TOKEN, config, envelope

SV_A = "SV_aaaaaaaaaaaaaaa"


def test_a_survey_whose_details_one_thread_is_reading_is_not_read_again_by_another() -> None:
    inside, release = threading.Event(), threading.Event()

    def details(request: Any, context: Any) -> dict[str, Any]:
        inside.set()
        release.wait(10.0)
        return envelope(
            {"id": SV_A, "responseCounts": {"auditable": 7}, "creationDate": "2024-01-01T00:00:00Z"}
        )

    sync = SyncContext(QualtricsClient(BASE_URL, TOKEN), parse_config(config()))
    seen: list[dict[str, int] | None] = []
    with requests_mock.Mocker() as api:
        read = api.get(f"{BASE_URL}/surveys/{SV_A}", json=details)
        first = threading.Thread(target=lambda: seen.append(sync.response_counts(SV_A)))
        first.start()
        assert inside.wait(10.0)
        second = threading.Thread(target=lambda: seen.append(sync.response_counts(SV_A)))
        second.start()
        second.join(0.2)
        assert second.is_alive(), "the second reader waits for the first one's answer"
        release.set()
        first.join(10.0)
        second.join(10.0)
    assert read.call_count == 1
    assert seen == [{"auditable": 7}, {"auditable": 7}]
