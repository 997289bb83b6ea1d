"""`divisions`: the brand's divisions (a Brand Administrator's view of the license's sub-units).

Qualtrics' API reference documents `GET /divisions/{divisionId}` but no list endpoint; other clients
call `GET /divisions` and it may exist unlisted. The stream tries the list first; when Qualtrics
does not serve it (404, 400 or 501) it warns and reads each division named by a user's `divisionId`
(`GET /users`) one by one, so a brand whose users sit in divisions still gets them. Full refresh:
there is no modified date to filter on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.accounts import Users
from source_qualtrics.streams.base import NOT_SERVED, Forbidden, QualtricsListStream, not_served

logger = logging.getLogger("airbyte")


class Divisions(QualtricsListStream):
    primary_key = "id"
    path = "divisions"
    permission = "the Brand Administrator role (divisions are brand-level)"
    scope = "read:divisions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._list_missing: QualtricsApiError | None = None

    @property
    def name(self) -> str:
        return "divisions"

    def to_record(self, element: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        record = super().to_record(element, stream_slice)
        record["id"] = element.get("id") or element.get("divisionId")
        return record

    def skip_error(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        if error.status in NOT_SERVED:
            self._list_missing = error
            return True
        return False

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        if self._list_missing is not None:
            loss = (
                "reading instead the divisions named by users' divisionId (GET /users, then GET "
                "/divisions/{id}); a division no user belongs to is missing."
            )
            self.warn_forbidden(
                f"Stream 'divisions': {not_served(self.path, self._list_missing, loss)}", "the list"
            )
            self._list_missing = None
            try:
                yield from self._divisions_of_users()
            except Forbidden as forbidden:
                self.warn_forbidden(str(forbidden), forbidden.key)

    def _divisions_of_users(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for user in self.paginate_parent("users", Users.permission, Users.scope):
            division_id = user.get("divisionId")
            if not isinstance(division_id, str) or not division_id or division_id in seen:
                continue
            seen.add(division_id)
            path = f"divisions/{division_id}"
            try:
                division = self._client.get_result(path)
            except QualtricsApiError as error:
                if error.status == 403:
                    message = self.describe_forbidden(path, self.permission, self.scope, error)
                    raise Forbidden(message, self.path) from None
                if self.skip_vanished_parent(error, {"divisionId": division_id}):
                    continue
                raise
            yield self.to_record({"id": division_id, **division}, {})
