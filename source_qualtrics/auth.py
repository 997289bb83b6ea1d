"""Credentials: an API token, or OAuth 2.0 client credentials minted into short-lived bearer tokens.

Both produce request headers; OAuth also knows how to recover from a 401 once (a token revoked or
expired early), so the client can retry a request a single time with a fresh token. Both are shared
by the client's threads: OAuth mints under a lock, and a 401 to a token already replaced by another
thread is retried with the new one rather than counted against it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import orjson
import requests
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets

from source_qualtrics.errors import CredentialsRejected, QualtricsConnectionError

logger = logging.getLogger("airbyte")

REFRESH_MARGIN_SECONDS = 60.0
# A short-lived token is refreshed when this share of its lifetime is left, not a fixed minute before
# it expires (a 3 s token would otherwise be minted again before every request).
REFRESH_MARGIN_SHARE = 0.2


class Authenticator(Protocol):
    def headers(self) -> dict[str, str]: ...

    def recover_from_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Return True when a retry with new credentials is worth it (`sent`: the refused headers)."""
        ...


class ApiTokenAuth:
    """`X-API-TOKEN`: per-user, long-lived; a 401 means it was rotated or deactivated."""

    def __init__(self, token: str) -> None:
        self._headers = {"X-API-TOKEN": token}

    def headers(self) -> dict[str, str]:
        return self._headers

    def recover_from_unauthorized(self, sent: Mapping[str, str]) -> bool:
        return False


class OAuthClientCredentials:
    """Mints `Authorization: Bearer` tokens at `/oauth2/token` and refreshes them shortly before expiry."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...] = (),
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 30.0,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = scopes
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._refresh_margin = REFRESH_MARGIN_SECONDS
        self._remints_since_success = 0

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._access_token is None or self._clock() >= self._expires_at - self._refresh_margin:
                self._mint()
            return {"Authorization": f"Bearer {self._access_token}"}

    def recover_from_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """One fresh token per 401; a second 401 in a row is a real permission problem."""
        with self._lock:
            if self._access_token is None or sent.get("Authorization") != f"Bearer {self._access_token}":
                return True  # another thread already replaced the refused token: retry with the new one
            if self._remints_since_success >= 1:
                return False
            self._remints_since_success += 1
            self._access_token = None
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._remints_since_success = 0

    def _mint(self) -> None:
        data = {"grant_type": "client_credentials"}
        if self._scopes:
            data["scope"] = " ".join(self._scopes)
        try:
            response = self._session.post(
                self._token_url,
                data=data,
                auth=(self._client_id, self._client_secret),
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise QualtricsConnectionError(
                f"Could not reach the OAuth token endpoint {self._token_url}"
            ) from error
        if response.status_code in (400, 401, 403):
            raise CredentialsRejected(
                "Qualtrics refused the OAuth client credentials: check the client id and secret (and the "
                f"scopes, if set) of the OAuth client in Qualtrics (HTTP {response.status_code})."
            )
        if response.status_code >= 300:
            raise QualtricsConnectionError(
                f"The OAuth token endpoint {self._token_url} answered HTTP {response.status_code}"
            )
        try:
            body = orjson.loads(response.content)
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise QualtricsConnectionError("The OAuth token endpoint returned no access_token") from None
        update_secrets([token])  # the minted token is a secret too: mask it wherever logs go
        self._access_token = str(token)
        self._expires_at = self._clock() + lifetime
        self._refresh_margin = min(REFRESH_MARGIN_SECONDS, lifetime * REFRESH_MARGIN_SHARE)
        logger.info("Minted an OAuth access token valid for %.0f s", lifetime)
