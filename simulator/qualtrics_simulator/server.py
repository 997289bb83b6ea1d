"""HTTP layer: routing, the Qualtrics envelope, auth, rate limits, injected faults and file streaming."""

from __future__ import annotations

import contextlib
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from . import admin, data, directory, structure, transactions
from .errors import INTERNAL, NOT_FOUND, RATE_LIMITED, STATUS_TEXT, ApiError, bad_request, survey_not_found
from .exports import BuiltFile
from .store import UnknownSurvey

if TYPE_CHECKING:
    from .simulator import Simulator

API_PREFIX = "/API/v3"
ADMIN_PREFIX = "/__admin"
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    kind: str  # counted in request stats
    limit: str  # rate-limit bucket
    handler: Callable[..., Any]


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        super().__init__(address, Handler)

    @property
    def root_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging; counts are available from /__admin/requests."""

    # --- plumbing ------------------------------------------------------------------------------------

    @property
    def sim(self) -> Simulator:
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
        try:
            if path.startswith(ADMIN_PREFIX):
                try:
                    parsed = orjson.loads(body) if body else None
                except orjson.JSONDecodeError:
                    self._send_json(400, {"error": "invalid JSON body"})
                    return
                status, payload = admin.handle(self.sim, method, path[len(ADMIN_PREFIX) :] or "/", parsed)
                self._send_json(status, payload)
            elif path == "/oauth2/token" and method == "POST":
                status, payload = self.sim.auth.mint(self.headers, body)
                self.sim.stats.record("POST oauth2/token", status)
                self._send_json(status, payload, {"Cache-Control": "no-store"})
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                self._api(method, path[len(API_PREFIX) :], parse_qs(url.query), body)
            else:
                self.sim.stats.record("unknown", 404)
                error = ApiError(404, NOT_FOUND, "The requested resource does not exist.")
                self._send_json(404, error.body(str(uuid.uuid4())))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- API ---------------------------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        request_id = str(uuid.uuid4())
        route, params = self._match(method, path)
        kind = route.kind if route else "unknown"
        try:
            self.sim.auth.check(self.headers)
            if route is None:
                raise ApiError(404, NOT_FOUND, "The requested resource does not exist.")
            if self.sim.faults.forbidden(path):
                raise ApiError(
                    403, directory.FORBIDDEN, "You do not have permission to access this resource."
                )
            retry_after = self.sim.faults.retry_after(route.limit)
            if retry_after is not None:
                raise ApiError(
                    429,
                    RATE_LIMITED,
                    "Too many requests. Please slow down and try again later.",
                    {"Retry-After": str(retry_after)},
                )
            injected = self.sim.faults.server_error()
            if injected is not None:
                raise ApiError(injected, INTERNAL, "Injected server error (simulator fault).")
            try:
                result = route.handler(self, *params, query=query, body=body)
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

    def _match(self, method: str, path: str) -> tuple[Route | None, tuple[str, ...]]:
        for route in ROUTES:
            found = route.pattern.fullmatch(path)
            if found and route.method == method:
                return route, found.groups()
        return None, ()

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

    # --- endpoint handlers ---------------------------------------------------------------------------

    def whoami(self, **_: Any) -> dict[str, Any]:
        return {
            "brandId": "simbrand",
            "userId": self.sim.store.owner_id,
            "userName": "sim.user@simbrand",
            "accountType": "UT_BRANDADMIN",
            "firstName": "Sim",
            "lastName": "User",
            "email": "sim.user@example.com",
            "datacenter": self.sim.config.datacenter,
        }

    def list_surveys(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        raw = query.get("offset", ["0"])[0]
        if not raw.isdigit():
            raise bad_request("Invalid value for 'offset': expected a non-negative integer.")
        offset, size = int(raw), max(1, self.sim.config.page_size)
        surveys = self.sim.store.surveys()
        page = surveys[offset : offset + size]
        more = offset + size < len(surveys)
        next_page = f"{self.server.root_url}{API_PREFIX}/surveys?offset={offset + size}" if more else None
        return {"elements": [data.list_element(info) for info in page], "nextPage": next_page}

    def get_survey(self, sid: str, **_: Any) -> dict[str, Any]:
        info = self.sim.store.survey(sid)
        auditable, deleted = self.sim.store.counts(sid)
        return data.legacy_survey(info, auditable, deleted)

    def get_definition(self, sid: str, **_: Any) -> dict[str, Any]:
        return data.survey_definition(self.sim.store.survey(sid))

    def get_questions(self, sid: str, **_: Any) -> dict[str, Any]:
        return {"elements": list(data.definition_questions(self.sim.store.survey(sid)).values())}

    def start_export(self, sid: str, body: bytes, **_: Any) -> dict[str, Any]:
        self.sim.store.survey(sid)
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raise bad_request("The request body is not valid JSON.") from None
        return self.sim.exports.start(sid, parsed)

    def export_progress(self, sid: str, pid: str, **_: Any) -> dict[str, Any]:
        return self.sim.exports.progress(sid, pid)

    def export_file(self, sid: str, file_id: str, **_: Any) -> BuiltFile:
        return self.sim.exports.file(sid, file_id)


def _route(
    method: str, pattern: str, kind: str, handler: Callable[..., Any], limit: str = "default"
) -> Route:
    return Route(method, re.compile(pattern), kind, limit, handler)


ROUTES = (
    _route("GET", r"/whoami", "GET whoami", Handler.whoami),
    _route("GET", r"/surveys", "GET surveys", Handler.list_surveys),
    _route("GET", r"/surveys/([^/]+)", "GET surveys/{id}", Handler.get_survey),
    _route("GET", r"/survey-definitions/([^/]+)", "GET survey-definitions/{id}", Handler.get_definition),
    _route(
        "GET",
        r"/survey-definitions/([^/]+)/questions",
        "GET survey-definitions/{id}/questions",
        Handler.get_questions,
    ),
    _route(
        "POST",
        r"/surveys/([^/]+)/export-responses",
        "POST export-responses",
        Handler.start_export,
        "export_start",
    ),
    _route(
        "GET",
        r"/surveys/([^/]+)/export-responses/([^/]+)",
        "GET export-responses/{progressId}",
        Handler.export_progress,
        "export_progress",
    ),
    _route(
        "GET",
        r"/surveys/([^/]+)/export-responses/([^/]+)/file",
        "GET export-responses/{fileId}/file",
        Handler.export_file,
        "export_file",
    ),
    *(
        _route(method, pattern, kind, handler, limit)
        for method, pattern, kind, handler, limit in (
            *directory.ROUTE_SPECS,
            *structure.ROUTE_SPECS,
            *transactions.ROUTE_SPECS,
        )
    ),
)
