"""`users` and `groups` (each group with its members): who has access to the brand."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import QualtricsListStream, what_to_grant


class Users(QualtricsListStream):
    """`GET /users`, paged by `offset` (Qualtrics puts the next offset in `nextPage`)."""

    primary_key = "id"
    path = "users"
    permission = "the 'Manage Users' permission (a Brand Administrator or a User Admin)"
    scope = "read:users"

    @property
    def name(self) -> str:
        return "users"


class Groups(QualtricsListStream):
    """`GET /groups`, plus `GET /groups/{id}/members` per group (read ahead), as a `members` array."""

    primary_key = "id"
    path = "groups"
    permission = "the 'Manage Groups' permission (a Brand Administrator)"
    scope = "read:groups"

    @property
    def name(self) -> str:
        return "groups"

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        groups = super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        for group, members in self.read_ahead(groups, self._member_pages):
            group_id = group.get("id")
            yield {
                **group,
                "members": self._members(group_id, members) if isinstance(group_id, str) else None,
            }

    def _member_pages(self, group: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        group_id = group.get("id")
        return self._client.paginate(f"groups/{group_id}/members") if isinstance(group_id, str) else iter(())

    def _members(self, group_id: str, pages: Iterable[Any]) -> list[dict[str, Any]] | None:
        """Each member as Qualtrics lists it; None (not []) when the members could not be read."""
        path = f"groups/{group_id}/members"
        try:
            return [dict(member) for member in pages if isinstance(member, Mapping)]
        except QualtricsApiError as error:
            if error.status in (403, 404):
                message = (
                    f"Stream 'groups': the members of group {group_id} could not be read "
                    f"(GET /{path} answered {error}); its record has members = null. "
                    f"{what_to_grant(self.permission, self.scope)}"
                )
                self.warn_forbidden(message, "groups/{id}/members")
                return None
            raise
