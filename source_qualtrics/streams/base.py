"""A base for Qualtrics list endpoints: `nextPage` paging, parent ids on child records, 403 as a warning.

A concrete stream names its path (with `{placeholders}` filled from the slice), the parent ids its
records carry, and the permission and OAuth scope a token needs. Records hold exactly the fields its
JSON schema declares, so nothing a destination would drop is emitted and nothing declared is missing.

Qualtrics grants most resources per permission: a token may read surveys but not users. A 403 on a
stream (or on one parent's children) is therefore logged as a warning that says which permission is
missing, and the sync goes on with the other streams and parents.

Children are read per parent, one request (or a few pages) each; `children` reads the next parents'
children ahead in worker threads (`fan_out`) and hands each parent's records back in order, so every
per-parent rule below runs on the stream's thread as in a plain loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import Stream

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.fan_out import R, T, fan_out
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")

#: parents per slice of a stream whose parents are read ahead (`read_parents_ahead`)
PARENTS_PER_SLICE = 500
PARENTS = "parents"


# What Qualtrics answers, on an endpoint no public document describes, when it does not serve it to
# this brand (or no longer): the stream degrades and says what is lost, the sync goes on.
NOT_SERVED = frozenset({400, 404, 501})


def not_served(path: str, error: QualtricsApiError, loss: str) -> str:
    """The warning for an undocumented endpoint that did not answer: which one, how, and the cost."""
    return (
        f"GET /{path} answered HTTP {error.status} ({error}). No public Qualtrics document describes "
        f"this endpoint, so it may not be served to every brand: {loss} The other streams are unaffected."
    )


def what_to_grant(permission: str, scope: str) -> str:
    """The sentence every 403 warning ends with: what a Qualtrics admin grants, and the OAuth scope."""
    return f"The token's user needs {permission} (OAuth scope {scope})."


class Forbidden(Exception):
    """The token's user may not read a parent collection; carries what to grant."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class QualtricsListStream(Stream):
    """One Qualtrics collection (or one collection per parent), read by following `nextPage`."""

    primary_key: str | list[str] = "id"
    #: path relative to /API/v3; `{name}` placeholders are filled from the stream slice
    path: str = ""
    #: slice keys copied onto every record (the parent ids)
    parent_keys: tuple[str, ...] = ()
    #: what a Qualtrics admin grants, in words, and the OAuth scope that covers it
    permission: str = ""
    scope: str = ""
    #: whether `parent_slices` are single parents whose children overlap: they come in slices of
    #: `PARENTS_PER_SLICE` (`{"parents": [...]}`) read ahead in worker threads
    read_parents_ahead: bool = False

    def __init__(self, sync: SyncContext) -> None:
        self._sync = sync
        self._client = sync.client
        self._config = sync.config
        self._warned: set[str] = set()

    # -- what a subclass may override ---------------------------------------------------------------

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        """The parents to read children for; a top-level stream has one empty slice."""
        yield {}

    def request_params(self, stream_slice: Mapping[str, Any], sync_mode: SyncMode) -> dict[str, Any]:
        return {}

    def to_record(self, element: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        record = {key: stream_slice.get(key) for key in self.parent_keys}
        for name in self.fields:
            if name not in record:
                record[name] = element.get(name)
        return record

    def skip_error(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        """Whether an error on one slice should be logged and skipped rather than fail the sync."""
        return False

    def start_read_ahead(self, sync_mode: SyncMode, state: Mapping[str, Any]) -> None:
        """Called when the sync starts if the stream is selected and named in the source's `READ_AHEAD`,
        with the sync mode and the state the stream will be read with: a stream whose reads would all
        wait for the CDK to reach it starts them here (`SyncContext.read_ahead`), in the order it
        reads them back (`paginate`)."""

    def chain_key(self, path: str, params: Mapping[str, Any] | None) -> str:
        """What names one list in the read-ahead spool: its path (a stream that lists one path for
        several parents adds what tells them apart)."""
        return path

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The elements of every page of `path`: every list this stream reads goes through here."""
        return self.read_back(path, params, lambda: self._client.paginate(path, params))

    def read_back(
        self, path: str, params: Mapping[str, Any] | None, read: Callable[[], Iterable[Any]]
    ) -> Iterator[Any]:
        """`read()`; or, when the stream's lists were read ahead, the same elements from its spool
        (and `read()` for a list the read-ahead did not read)."""
        spool = self._sync.read_ahead_of(self.name)
        if spool is None:
            return iter(read())
        return spool.elements(self.chain_key(path, params), read)

    # -- the machinery --------------------------------------------------------------------------------

    @cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.get_json_schema().get("properties", {}))

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        group: list[Mapping[str, Any]] = []
        try:
            for parent in self.parent_slices():
                if not self.read_parents_ahead:
                    yield parent
                    continue
                group.append(parent)
                if len(group) >= PARENTS_PER_SLICE:
                    yield {PARENTS: group}
                    group = []
        except Forbidden as forbidden:
            if group:  # the parents listed before the refusal are read first, as they come
                yield {PARENTS: group}
                group = []
            self.warn_forbidden(str(forbidden), forbidden.key)
        if group:
            yield {PARENTS: group}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        current = stream_slice or {}
        if PARENTS in current:
            for _, records in self.children(current[PARENTS], sync_mode):
                yield from records
            return
        params = self.request_params(current, sync_mode) or None
        yield from self.records_of(current, self.paginate(self.path.format(**current), params))

    def children(
        self, parents: Iterable[Mapping[str, Any]], sync_mode: SyncMode
    ) -> Iterator[tuple[Mapping[str, Any], Iterator[Mapping[str, Any]]]]:
        """Each parent with its records, in order; the next parents' pages are read ahead meanwhile."""
        requests = (
            (parent, self.path.format(**parent), self.request_params(parent, sync_mode) or None)
            for parent in parents
        )
        for (parent, _, _), elements in self.read_ahead(requests, lambda r: self.paginate(r[1], r[2])):
            yield parent, self.records_of(parent, elements)

    def read_ahead(
        self, items: Iterable[T], read: Callable[[T], Iterable[R]]
    ) -> Iterator[tuple[T, Iterator[R]]]:
        """`fan_out` with as many items ahead as requests may be in flight; one item after another
        when the lists come from the read-ahead spool (asking for the next item's list is what tells
        the spool the stream went past a failed one)."""
        if self._sync.read_ahead_of(self.name) is not None:
            return ((item, iter(read(item))) for item in items)
        return self.fan_out(items, read)

    def fan_out(
        self, items: Iterable[T], read: Callable[[T], Iterable[R]]
    ) -> Iterator[tuple[T, Iterator[R]]]:
        """Network reads of many items overlapped, up to as many as requests may be in flight."""
        return fan_out(items, read, ahead=self._client.max_concurrent_requests)

    def records_of(self, current: Mapping[str, Any], elements: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
        """One parent's elements as records; its 403 a warning, a `skip_error` skipped."""
        path = self.path.format(**current)
        try:
            for element in elements:
                if isinstance(element, Mapping):
                    yield self.to_record(element, current)
        except QualtricsApiError as error:
            if error.status == 403:
                message = self.describe_forbidden(path, self.permission, self.scope, error)
                self.warn_forbidden(message, self.path)
                return
            if self.skip_error(error, current):
                return
            raise

    def paginate_parent(
        self, path: str, permission: str, scope: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """List a parent collection; a 403 there becomes `Forbidden` (the stream then reads nothing)."""
        try:
            yield from self.paginate(path, params)
        except QualtricsApiError as error:
            if error.status == 403:
                raise Forbidden(self.describe_forbidden(path, permission, scope, error), path) from None
            raise

    def child_slices(
        self, parents: Iterable[Mapping[str, Any]], path: str, key: str, permission: str, scope: str
    ) -> Iterator[dict[str, Any]]:
        """Each parent extended with the id (`key`) of each of its children listed at `path`."""
        for parent in parents:
            for element in self.paginate_parent(path.format(**parent), permission, scope):
                child_id = element.get(key)
                if isinstance(child_id, str) and child_id:
                    yield {**parent, key: child_id}

    def skip_vanished_parent(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        """A 404 on one parent's children: the parent was deleted while the sync ran; warn and go on."""
        if error.status != 404:
            return False
        self.warn_forbidden(
            f"Stream '{self.name}': {dict(stream_slice)} no longer exists ({error}); skipped.",
            f"404 {dict(stream_slice)}",
        )
        return True

    def describe_forbidden(self, path: str, permission: str, scope: str, error: QualtricsApiError) -> str:
        return (
            f"Stream '{self.name}' skipped: Qualtrics refused GET /{path} with HTTP 403 ({error}). "
            f"{what_to_grant(permission, scope)} The other streams are unaffected."
        )

    def warn_forbidden(self, message: str, key: str) -> None:
        """Warn once per endpoint; repeats (one per parent) go to the info log."""
        if key in self._warned:
            logger.info(message)
            return
        self._warned.add(key)
        logger.warning(message)
