"""The two paging styles Qualtrics collections use: `offset` (/surveys, /users) and `skipToken` (the rest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .errors import bad_request

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    elements: list[dict[str, Any]]
    next_page: str | None

    def as_result(self) -> dict[str, Any]:
        return {"elements": self.elements, "nextPage": self.next_page}


def page_size(query: Mapping[str, list[str]], default: int, cap: int = MAX_PAGE_SIZE) -> int:
    raw = query.get("pageSize", [None])[0]
    if raw is None:
        return max(1, min(default, cap))
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request("Invalid value for 'pageSize': expected a positive integer.")
    return min(int(raw), cap)


def offset_window(
    total: int, query: Mapping[str, list[str]], url: str, size: int
) -> tuple[slice, str | None]:
    """Which items of `total` an `offset` page holds, and its `nextPage`; callers render only those
    items, so paging through 10,000 surveys costs each page its own size, not the whole list."""
    raw = query.get("offset", ["0"])[0]
    if not raw.isdigit():
        raise bad_request("Invalid value for 'offset': expected a non-negative integer.")
    offset = int(raw)
    more = offset + size < total
    return slice(offset, offset + size), f"{url}?offset={offset + size}" if more else None


def offset_page(
    elements: Sequence[dict[str, Any]], query: Mapping[str, list[str]], url: str, size: int
) -> Page:
    """`/users`-style paging: `nextPage` carries the next `offset`."""
    window, next_page = offset_window(len(elements), query, url, size)
    return Page(list(elements[window]), next_page)


def skip_token_page(
    elements: Sequence[dict[str, Any]],
    key: str,
    query: Mapping[str, list[str]],
    url: str,
    size: int,
    keep: Sequence[str] = (),
) -> Page:
    """XM Directory / distribution paging: `skipToken` names the last element already served."""
    start = 0
    token = query.get("skipToken", [None])[0]
    if token is not None:
        ids = [element[key] for element in elements]
        if token not in ids:
            raise bad_request(f"Invalid value for 'skipToken': '{token}' is not a valid page token.")
        start = ids.index(token) + 1
    page = list(elements[start : start + size])
    if start + size >= len(elements) or not page:
        return Page(page, None)
    params = [(name, query[name][0]) for name in keep if name in query]
    params += [("pageSize", str(size)), ("skipToken", page[-1][key])]
    return Page(page, f"{url}?{urlencode(params)}")
