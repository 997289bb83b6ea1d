"""What a route handler sees (`Request`) and one entry of a routes table (`Route`); no HTTP here.

A handler is `def handler(request: Request) -> result`, where result is the `result` object of the
Qualtrics envelope (the server wraps it) or an `exports.BuiltFile` (the server streams it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import bad_request

if TYPE_CHECKING:
    from .tenant import Tenant

API_PREFIX = "/API/v3"
ADMIN_PREFIX = "/__admin"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Request:
    """One parsed request: the tenant, path parameters by name, query, raw body and the server's root URL."""

    sim: Tenant
    params: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: bytes
    root_url: str

    def arg(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def api_url(self, path: str) -> str:
        """Absolute URL of an API path, for `nextPage` links (on `next_page_host` when it is set)."""
        host = self.sim.config.next_page_host
        root = f"https://{host}" if host else self.root_url
        return f"{root}{API_PREFIX}{path}"

    def json(self) -> Any:
        """The parsed body (None when empty); 400 when it is not JSON."""
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise bad_request("The request body is not valid JSON.") from None


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    """`path` uses `{name}` placeholders (one segment each), handed to the handler as `request.params`.

    `kind` names the route in request counts (default: method and path with every placeholder as `{id}`);
    `limit` is its rate-limit bucket (config.DEFAULT_RATE_LIMITS).
    """

    method: str
    path: str
    handler: Handler
    kind: str = ""
    limit: str = "default"
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _PLACEHOLDER.split(self.path)  # literal, name, literal, name, ..., literal
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        object.__setattr__(self, "pattern", re.compile(regex))
        if not self.kind:
            generic = _PLACEHOLDER.sub("{id}", self.path.lstrip("/"))
            object.__setattr__(self, "kind", f"{self.method} {generic}")


def find_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route matching method and path, with its path parameters."""
    for route in routes:
        found = route.pattern.fullmatch(path)
        if found is not None and route.method == method:
            return route, found.groupdict()
    return None
