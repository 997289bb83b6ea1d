"""HTTP layer only: parse the request, authenticate, apply faults and rate limits, dispatch to a route
handler, and write the Qualtrics envelope (or stream the export file)."""

from __future__ import annotations

import contextlib
import socket
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from . import admin, routes
from .errors import INTERNAL, NOT_FOUND, RATE_LIMITED, STATUS_TEXT, ApiError, forbidden, survey_not_found
from .exports import BuiltFile
from .routing import ADMIN_PREFIX, API_PREFIX, Request, find_route
from .store import UnknownSurvey
from .tenant import Tenant

__all__ = ["ADMIN_PREFIX", "API_PREFIX", "SimulatorHTTPServer"]

CHUNK = 256 * 1024


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: Tenant) -> None:
        self.sim = sim
        super().__init__(address, Handler)

    @property
    def root_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def too_many_in_flight() -> ApiError:
    """The `max_in_flight` cap (distance.py): Qualtrics' answer to a client that floods it."""
    return ApiError(
        429, RATE_LIMITED, "Too many concurrent requests. Please slow down.", {"Retry-After": "1"}
    )


def _not_found() -> ApiError:
    return ApiError(404, NOT_FOUND, "The requested resource does not exist.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive reply then waits for the
    # client's delayed ACK (~40 ms), which made 10,000 GET /surveys/{id} take 7 minutes.
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging; counts are available from /__admin/requests."""

    # --- plumbing ------------------------------------------------------------------------------------

    @property
    def sim(self) -> Tenant:
        return self.server.sim

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, orjson.dumps(obj), "application/json", headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        body = self._read_body()
        query = parse_qs(url.query)
        try:
            if path.startswith(ADMIN_PREFIX):
                self._admin(method, path[len(ADMIN_PREFIX) :] or "/", query, body)
            elif path == "/oauth2/token" and method == "POST":
                with self.sim.distance.request("oauth"):
                    status, payload = self.sim.auth.mint(self.headers, body)
                    self.sim.stats.record("POST oauth2/token", status)
                    self._send_json(status, payload, {"Cache-Control": "no-store"})
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                credential = self.headers.get("X-API-TOKEN") or self.headers.get("Authorization") or ""
                with self.sim.distance.request(credential) as admitted:
                    self._api(method, path[len(API_PREFIX) :], query, body, admitted)
            else:
                self.sim.stats.record("unknown", 404)
                self._send_json(404, _not_found().body(str(uuid.uuid4())))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _request(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> Request:
        return Request(self.sim, params, query, body, self.server.root_url)

    # --- admin ---------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        found = find_route(admin.ADMIN_ROUTES, method, path)
        if found is None:
            self._send_json(404, {"error": f"unknown admin path {method} {path}"})
            return
        route, params = found
        status, payload = admin.call(route, self._request(params, query, body))
        self._send_json(status, payload)

    # --- API ---------------------------------------------------------------------------------------------

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, admitted: bool = True
    ) -> None:
        request_id = str(uuid.uuid4())
        found = find_route(routes.ROUTES, method, path)
        kind = found[0].kind if found else "unknown"
        try:
            if not admitted:
                raise too_many_in_flight()
            self.sim.auth.check(self.headers)
            if found is None:
                raise _not_found()
            route, params = found
            self._apply_faults(path, route.limit)
            try:
                result = route.handler(self._request(params, query, body))
            except UnknownSurvey:
                raise survey_not_found() from None
            except ApiError:
                raise
            except Exception as exc:  # a simulator bug still answers with the envelope, not a dropped socket
                raise ApiError(500, INTERNAL, f"Unexpected simulator error: {type(exc).__name__}") from exc
        except ApiError as error:
            self.sim.stats.record(kind, error.status)
            self._send_json(error.status, error.body(request_id), error.headers)
            return
        self.sim.stats.record(kind, 200)
        if isinstance(result, BuiltFile):
            self._send_file(result)
        else:
            meta = {"httpStatus": STATUS_TEXT[200], "requestId": request_id}
            self._send_json(200, {"result": result, "meta": meta})

    def _apply_faults(self, path: str, limit: str) -> None:
        """Injected 403s, rate limits (429 with Retry-After) and random 5xx, in that order."""
        faults = self.sim.faults
        if faults.forbidden(path):
            raise forbidden()
        retry_after = faults.retry_after(limit)
        if retry_after is not None:
            raise ApiError(
                429,
                RATE_LIMITED,
                "Too many requests. Please slow down and try again later.",
                {"Retry-After": str(retry_after)},
            )
        injected = faults.server_error()
        if injected is not None:
            raise ApiError(injected, INTERNAL, "Injected server error (simulator fault).")

    def _send_file(self, built: BuiltFile) -> None:
        """Stream the export file; dropped downloads stop half-way, corrupt zips get a flipped CRC-32."""
        faults = self.sim.faults
        drop = faults.take("drop_downloads")
        patches = built.crc_offsets() if built.compress and faults.take("corrupt_zips") else []
        size = built.path.stat().st_size
        limit = size // 2 if drop else size
        self.send_response(200)
        self.send_header("Content-Type", built.content_type)
        self.send_header("Content-Length", str(size))
        if built.compress:
            self.send_header("Content-Disposition", f'attachment; filename="{built.member}.zip"')
        self.end_headers()
        sent = 0
        with open(built.path, "rb") as handle:
            while sent < limit:
                chunk = bytearray(handle.read(min(CHUNK, limit - sent)))
                if not chunk:
                    break
                for offset in patches:
                    for i in range(offset, offset + 4):
                        if sent <= i < sent + len(chunk):
                            chunk[i - sent] ^= 0xFF
                self.wfile.write(chunk)
                sent += len(chunk)
        if drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
