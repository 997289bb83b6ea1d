from __future__ import annotations

import requests
from airbyte_cdk.models import Status

from unit_tests.builders import BASE_URL, TOKEN, config, envelope, error_body
from unit_tests.helpers import run_check

WHOAMI = f"{BASE_URL}/whoami"


def status_of(output):  # type: ignore[no-untyped-def]
    (message,) = output.connection_status_messages
    return message.connectionStatus


def test_check_succeeds_and_names_the_user_and_brand(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(WHOAMI, json=envelope({"userName": "ana@example.com", "brandId": "acme", "userId": "UR_1"}))
    output = run_check(source, config())
    status = status_of(output)
    assert status.status == Status.SUCCEEDED
    assert "ana@example.com" in status.message and "acme" in status.message
    assert api.last_request.headers["X-API-TOKEN"] == TOKEN


def test_check_with_a_rejected_token_says_to_update_it(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        WHOAMI, status_code=401, json=error_body("401 - Unauthorized", "DCD_7", "Unrecognized X-API-TOKEN.")
    )
    status = status_of(run_check(source, config()))
    assert status.status == Status.FAILED
    assert "rejected" in status.message and "rotated" in status.message and "state is kept" in status.message
    assert "\n" not in status.message


def test_check_with_an_unknown_host_names_the_host(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        "https://zzz9.qualtrics.com/API/v3/whoami",
        exc=requests.ConnectionError("Failed to resolve 'zzz9.qualtrics.com' (Name or service not known)"),
    )
    status = status_of(run_check(source, config(datacenter="zzz9")))
    assert status.status == Status.FAILED
    assert "zzz9.qualtrics.com" in status.message
    assert api.call_count == 1, "an unresolvable host is not retried"


def test_check_with_a_refused_connection_names_the_host(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(WHOAMI, exc=requests.ConnectionError("[Errno 111] Connection refused"))
    status = status_of(run_check(source, config()))
    assert status.status == Status.FAILED
    assert "fra1.qualtrics.com" in status.message and "refused" in status.message


def test_check_reports_the_datacenter_qualtrics_suggests(source, api) -> None:  # type: ignore[no-untyped-def]
    notice = "Request proxied. For faster response times, use this host instead: az1.qualtrics.com"
    api.get(WHOAMI, json=envelope({"userName": "ana"}, notice=notice))
    status = status_of(run_check(source, config()))
    assert status.status == Status.FAILED
    assert "az1.qualtrics.com" in status.message


def test_check_with_a_bad_datacenter_fails_without_calling_anyone(source, api) -> None:  # type: ignore[no-untyped-def]
    output = run_check(source, config(datacenter="https://evil.example.com"))
    status = status_of(output)
    assert status.status == Status.FAILED and "not recognised" in status.message
    assert api.call_count == 0
    assert TOKEN not in "".join(str(m) for m in output._messages)
