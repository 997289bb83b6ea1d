from __future__ import annotations

import base64

import pytest
from airbyte_cdk.models import Status

from source_qualtrics.auth import OAuthClientCredentials
from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import OAuthClient, parse_config
from source_qualtrics.errors import ConfigError, CredentialsRejected
from unit_tests.builders import BASE_URL, envelope, error_body
from unit_tests.helpers import run_check

TOKEN_URL = "https://fra1.qualtrics.com/oauth2/token"
CLIENT_ID, CLIENT_SECRET = "oauth-client-7a1", "oauth-secret-5b9e"


def oauth_config() -> dict:  # type: ignore[type-arg]
    return {
        "datacenter": "fra1",
        "credentials": {
            "auth_type": "oauth2_client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "read:surveys read:survey_responses",
        },
    }


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_oauth_credentials_parse_with_scopes() -> None:
    parsed = parse_config(oauth_config())
    assert parsed.credentials == OAuthClient(
        CLIENT_ID, CLIENT_SECRET, ("read:surveys", "read:survey_responses")
    )
    assert parsed.token_url == TOKEN_URL
    assert CLIENT_SECRET not in repr(parsed)


def test_a_token_is_minted_with_basic_auth_and_sent_as_bearer(api) -> None:  # type: ignore[no-untyped-def]
    mint = api.post(TOKEN_URL, json={"access_token": "minted-1", "expires_in": 3600, "token_type": "Bearer"})
    whoami = api.get(f"{BASE_URL}/whoami", json=envelope({"userName": "ana"}))
    auth = OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, ("read:surveys",))
    QualtricsClient(BASE_URL, auth).get_result("whoami")
    sent = mint.last_request
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert "grant_type=client_credentials" in sent.text and "scope=read%3Asurveys" in sent.text
    assert whoami.last_request.headers["Authorization"] == "Bearer minted-1"
    assert "X-API-TOKEN" not in whoami.last_request.headers


def test_the_token_is_refreshed_shortly_before_it_expires(api) -> None:  # type: ignore[no-untyped-def]
    mint = api.post(
        TOKEN_URL,
        [{"json": {"access_token": "first", "expires_in": 3600}}, {"json": {"access_token": "second"}}],
    )
    api.get(f"{BASE_URL}/whoami", json=envelope({}))
    clock = Clock()
    auth = OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, clock=clock)
    client = QualtricsClient(BASE_URL, auth)
    client.get_result("whoami")
    clock.now += 3000
    client.get_result("whoami")
    assert mint.call_count == 1
    clock.now += 560  # within the last minute of the token's life
    client.get_result("whoami")
    assert mint.call_count == 2 and api.last_request.headers["Authorization"] == "Bearer second"


def test_a_401_re_mints_once_and_retries(api) -> None:  # type: ignore[no-untyped-def]
    api.post(TOKEN_URL, [{"json": {"access_token": "revoked"}}, {"json": {"access_token": "fresh"}}])
    unauthorized = error_body("401 - Unauthorized", "DCD_7", "Unrecognized X-API-TOKEN.")
    api.get(f"{BASE_URL}/whoami", [{"status_code": 401, "json": unauthorized}, {"json": envelope({"ok": 1})}])
    client = QualtricsClient(BASE_URL, OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET))
    assert client.get_result("whoami") == {"ok": 1}
    assert api.last_request.headers["Authorization"] == "Bearer fresh"


def test_a_second_401_in_a_row_is_an_error_not_a_loop(api) -> None:  # type: ignore[no-untyped-def]
    mint = api.post(TOKEN_URL, json={"access_token": "t"})
    api.get(f"{BASE_URL}/whoami", status_code=401, json=error_body("401 - Unauthorized", "DCD_7", "nope"))
    client = QualtricsClient(BASE_URL, OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET))
    with pytest.raises(CredentialsRejected, match="OAuth access token"):
        client.get_result("whoami")
    assert mint.call_count == 2


def test_refused_client_credentials_are_a_config_error(api) -> None:  # type: ignore[no-untyped-def]
    api.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    with pytest.raises(ConfigError, match="client id and secret"):
        OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET).headers()


def test_check_with_refused_oauth_credentials_fails_without_leaking_them(source, api) -> None:  # type: ignore[no-untyped-def]
    api.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    output = run_check(source, oauth_config())
    (status,) = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert "OAuth client credentials" in status.connectionStatus.message
    text = "".join(str(message) for message in output._messages)
    assert CLIENT_SECRET not in text and CLIENT_ID not in text


def test_a_401_to_a_token_another_thread_already_replaced_is_retried_not_counted(api) -> None:  # type: ignore[no-untyped-def]
    api.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "minted-1", "expires_in": 3600}},
            {"json": {"access_token": "minted-2", "expires_in": 3600}},
        ],
    )
    auth = OAuthClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    first = auth.headers()  # two threads sent requests with this token; both are answered 401
    assert auth.recover_from_unauthorized(first)  # the first thread's 401: mint a new token
    assert auth.headers() == {"Authorization": "Bearer minted-2"}
    assert auth.recover_from_unauthorized(first)  # the second thread's 401 was to the old token
    assert not auth.recover_from_unauthorized(auth.headers())  # a 401 to the new one is real
