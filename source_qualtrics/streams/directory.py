"""XM Directory: `directories`, `directory_contacts`, `mailing_lists`, `mailing_list_contacts`.

Every endpoint below `/directories` pages with `skipToken`; the connector follows `nextPage` as given.
Child records carry their parents' ids (`directoryId`, `mailingListId`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import QualtricsListStream

DIRECTORY_PERMISSION = "access to the XM Directory ('Access Directory' / Contacts permission)"
DIRECTORY_SCOPE = "read:directories"


class Directories(QualtricsListStream):
    primary_key = "directoryId"
    path = "directories"
    permission = DIRECTORY_PERMISSION
    scope = DIRECTORY_SCOPE

    @property
    def name(self) -> str:
        return "directories"


def listed_directory(element: Mapping[str, Any]) -> str | None:
    """The id of a `GET /directories` element, None when it has none."""
    directory_id = element.get("directoryId")
    return directory_id if isinstance(directory_id, str) and directory_id else None


class _PerDirectory(QualtricsListStream):
    parent_keys: tuple[str, ...] = ("directoryId",)
    read_parents_ahead = True

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        for element in self.paginate_parent(Directories.path, DIRECTORY_PERMISSION, DIRECTORY_SCOPE):
            directory_id = listed_directory(element)
            if directory_id:
                yield {"directoryId": directory_id}

    def skip_error(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        return self.skip_vanished_parent(error, stream_slice)


class DirectoryContacts(_PerDirectory):
    primary_key = ["directoryId", "contactId"]
    path = "directories/{directoryId}/contacts"
    permission = "access to the XM Directory contacts ('View Contacts' permission)"
    scope = "read:directory_contacts"

    @property
    def name(self) -> str:
        return "directory_contacts"

    # A directory's contacts are one `skipToken` chain (100 a page, 1,000 round trips one after another
    # for 100,000 contacts): they are read from the start of the sync, behind the other streams.

    def start_read_ahead(self, sync_mode: SyncMode, state: Mapping[str, Any]) -> None:
        self._sync.read_ahead(self.name, self._chains)

    def _chains(self) -> Iterator[tuple[str, Iterable[Mapping[str, Any]]]]:
        """What a plain read of the stream reads, in its order: the directories, then each one's contacts."""
        listed: list[str] = []

        def listing() -> Iterator[dict[str, Any]]:
            for element in self._client.paginate(Directories.path):
                directory_id = listed_directory(element)
                if directory_id:
                    listed.append(directory_id)
                yield element

        yield Directories.path, listing()
        for directory_id in listed:
            parent = {"directoryId": directory_id}
            params = self.request_params(parent, SyncMode.full_refresh) or None
            yield self.path.format(**parent), self._client.paginate(self.path.format(**parent), params)


class MailingLists(_PerDirectory):
    primary_key = "mailingListId"
    path = "directories/{directoryId}/mailinglists"
    permission = "access to the directory's mailing lists ('Access Directory' / Contacts permission)"
    scope = "read:mailing_lists"

    @property
    def name(self) -> str:
        return "mailing_lists"


class MailingListContacts(_PerDirectory):
    primary_key = ["mailingListId", "contactId"]
    path = "directories/{directoryId}/mailinglists/{mailingListId}/contacts"
    parent_keys = ("directoryId", "mailingListId")
    permission = "access to the mailing list's contacts ('View Contacts' permission)"
    scope = "read:mailing_list_contacts"

    @property
    def name(self) -> str:
        return "mailing_list_contacts"

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        directories, lists = super().parent_slices(), MailingLists
        yield from self.child_slices(directories, lists.path, "mailingListId", lists.permission, lists.scope)
