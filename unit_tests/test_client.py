from __future__ import annotations

import io

import pytest
import requests

from source_qualtrics.client import QualtricsClient, RetryPolicy
from source_qualtrics.errors import QualtricsApiError, QualtricsConnectionError
from unit_tests.builders import BASE_URL, TOKEN, envelope, error_body


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> QualtricsClient:
    return QualtricsClient(
        BASE_URL, TOKEN, sleep=sleeps, retry=RetryPolicy(max_attempts=4, max_total_wait=100)
    )


def test_429_waits_as_long_as_retry_after_says(client, sleeps, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/whoami",
        [
            {
                "status_code": 429,
                "headers": {"Retry-After": "7"},
                "json": error_body("429 - Too Many Requests", "X", "slow"),
            },
            {"json": envelope({"userName": "ana"})},
        ],
    )
    assert client.get_result("whoami") == {"userName": "ana"}
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_growing_backoff(client, sleeps, api, status: int) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/whoami",
        [
            {"status_code": status, "json": {}},
            {"status_code": status, "json": {}},
            {"json": envelope({"ok": 1})},
        ],
    )
    assert client.get_result("whoami") == {"ok": 1}
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9


def test_retries_are_bounded_and_the_last_error_is_reported(client, sleeps, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/whoami",
        status_code=503,
        json=error_body("503 - Temporary Internal Server Error", "S", "busy"),
    )
    with pytest.raises(QualtricsApiError) as raised:
        client.get_result("whoami")
    assert raised.value.status == 503 and api.call_count == 4 and len(sleeps) == 3


def test_connection_resets_and_timeouts_are_retried(client, sleeps, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/whoami",
        [
            {"exc": requests.ConnectionError("Connection reset by peer")},
            {"exc": requests.ReadTimeout("read timed out")},
            {"json": envelope({"ok": 1})},
        ],
    )
    assert client.get_result("whoami") == {"ok": 1}
    assert len(sleeps) == 2


def test_a_host_that_stays_down_names_itself(client, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/whoami", exc=requests.ConnectionError("[Errno 111] Connection refused"))
    with pytest.raises(QualtricsConnectionError, match="fra1.qualtrics.com"):
        client.get_result("whoami")


@pytest.mark.parametrize(
    ("status", "meaning"), [(400, "invalid"), (403, "permission"), (404, "does not know")]
)
def test_other_client_errors_fail_fast_with_a_human_message_and_the_request_id(  # type: ignore[no-untyped-def]
    client, sleeps, api, status: int, meaning: str
) -> None:
    body = error_body(f"{status} - Error", "RCE_1", "The survey is closed")
    api.get(f"{BASE_URL}/surveys/SV_1", status_code=status, json=body)
    with pytest.raises(QualtricsApiError) as raised:
        client.get_result("surveys/SV_1")
    message = str(raised.value)
    assert meaning in message and "The survey is closed" in message and body["meta"]["requestId"] in message
    assert api.call_count == 1 and sleeps == []


def test_next_page_on_another_host_is_followed_on_the_configured_host_which_alone_gets_the_token(  # type: ignore[no-untyped-def]
    client, api, caplog
) -> None:
    # As recorded: a page asked of one datacenter whose nextPage names the brand's own datacenter.
    api.get(
        f"{BASE_URL}/distributions/EMD_1/links",
        json=envelope(
            {
                "elements": [{"id": "1"}],
                "nextPage": "https://az1.qualtrics.com/API/v3/distributions/EMD_1/links?skipToken=1",
            }
        ),
    )
    other = api.get(
        "https://az1.qualtrics.com/API/v3/distributions/EMD_1/links", json=envelope({"elements": []})
    )
    caplog.set_level("INFO", logger="airbyte")
    for _ in range(2):
        api.get(
            f"{BASE_URL}/distributions/EMD_1/links?skipToken=1",
            json=envelope(
                {"elements": [{"id": "2"}], "nextPage": "https://evil.example/API/v3/x?skipToken=2"}
            ),
        )
        api.get(f"{BASE_URL}/x?skipToken=2", json=envelope({"elements": [{"id": "3"}], "nextPage": None}))
        assert [e["id"] for e in client.paginate("distributions/EMD_1/links")] == ["1", "2", "3"]
    assert other.call_count == 0
    assert all(request.netloc == "fra1.qualtrics.com" for request in api.request_history)
    assert all(request.headers.get("X-API-TOKEN") for request in api.request_history)
    named = [r.getMessage() for r in caplog.records if "nextPage" in r.getMessage()]
    assert len(named) == 2 and "az1.qualtrics.com" in named[0] and "evil.example" in named[1], "once per host"


def test_redirects_are_not_followed(client, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/whoami", status_code=302, headers={"Location": "https://evil.example/steal"})
    target = api.get("https://evil.example/steal", json={})
    with pytest.raises(QualtricsApiError, match="redirects are not followed"):
        client.get_result("whoami")
    assert target.call_count == 0


def test_plain_http_to_the_same_host_is_refused(client, api) -> None:  # type: ignore[no-untyped-def]
    downgrade = api.get("http://fra1.qualtrics.com/API/v3/surveys", json={})
    with pytest.raises(QualtricsApiError, match="Refusing"):
        client.get_result("http://fra1.qualtrics.com/API/v3/surveys")
    assert downgrade.call_count == 0


def test_a_short_download_is_detected(client, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/f", content=b"12345", headers={"Content-Length": "10"})
    from source_qualtrics.client import TruncatedDownload

    with pytest.raises(TruncatedDownload):
        client.download("f", io.BytesIO())


def test_explicit_timeouts_are_sent(client, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/whoami", json=envelope({}))
    client.get_result("whoami")
    assert api.last_request.timeout == (15.0, 300.0)
