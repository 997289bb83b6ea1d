"""XM Directory: `directories`, `directory_contacts`, `mailing_lists`, `mailing_list_contacts`.

Every endpoint below `/directories` pages with `skipToken`; the connector follows `nextPage` as given.
Child records carry their parents' ids (`directoryId`, `mailingListId`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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


class _PerDirectory(QualtricsListStream):
    parent_keys: tuple[str, ...] = ("directoryId",)
    read_parents_ahead = True

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        for element in self.paginate_parent("directories", DIRECTORY_PERMISSION, DIRECTORY_SCOPE):
            directory_id = element.get("directoryId")
            if isinstance(directory_id, str) and directory_id:
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
