"""API-token and OAuth 2.0 client-credentials authentication, with Qualtrics' error codes."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any, Protocol
from urllib.parse import parse_qs

from .config import SimulatorConfig
from .errors import ApiError


class Headers(Protocol):
    """The part of `http.client.HTTPMessage` (or a dict) that authentication needs."""

    def get(self, name: str, /) -> str | None: ...


class Authenticator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._minted: dict[str, float] = {}

    def check(self, headers: Headers) -> None:
        """X-API-TOKEN first (as Qualtrics), then `Authorization: Bearer`; raise ATP_2 / DCD_7."""
        token = headers.get("X-API-TOKEN")
        if token is not None:
            if token != self.config.token:
                raise ApiError(401, "DCD_7", "Unrecognized X-API-TOKEN.")
            return
        authorization = headers.get("Authorization") or ""
        if authorization[:7].lower() == "bearer ":
            if not self._bearer_ok(authorization[7:].strip()):
                raise ApiError(401, "DCD_7", "Unrecognized X-API-TOKEN.")
            return
        raise ApiError(400, "ATP_2", "Expected authorization in headers, but none provided.")

    def _bearer_ok(self, bearer: str) -> bool:
        if bearer == self.config.token:
            return True
        with self._lock:
            expiry = self._minted.get(bearer)
            return expiry is not None and expiry > time.time()

    def mint(self, headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST /oauth2/token: client credentials via HTTP Basic or form fields."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = headers.get("Authorization") or ""
        if authorization[:6].lower() == "basic ":
            try:
                client_id, _, client_secret = (
                    base64.b64decode(authorization[6:].strip()).decode().partition(":")
                )
            except ValueError:
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Use grant_type=client_credentials.",
            }
        if client_id != self.config.oauth_client_id or client_secret != self.config.oauth_client_secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._minted[access_token] = time.time() + self.config.oauth_token_ttl
        scope = form.get("scope") or "manage:all"
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.config.oauth_token_ttl,
            "scope": scope,
        }
