"""XM Directory transactions: `transaction_batches`, `transaction_batch_members`, `contact_transactions`.

A transaction is one dated interaction recorded on a contact (a purchase, a ticket), with free-form
`data`; a batch groups transactions for a distribution. Every endpoint pages with `skipToken` and the
connector follows `nextPage` as given. None has a date filter, so all three are full refresh.

`contact_transactions` is listed per contact (`/directories/{id}/contacts/{contactId}/transactions`,
the only list Qualtrics documents): one call per contact, which on a large directory is the cost of
the stream. The element shape of a batch's transaction list is not in the public reference; the
stream keeps `transactionId` (or `id`) and `contactId` when present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from source_qualtrics.streams.directory import DirectoryContacts, _PerDirectory

TRANSACTION_PERMISSION = (
    "access to the XM Directory's transactions (the Contacts / 'Access Directory' permission)"
)
TRANSACTION_SCOPE = "read:contact_transactions"


class TransactionBatches(_PerDirectory):
    primary_key = "batchId"
    path = "directories/{directoryId}/transactionbatches"
    permission = TRANSACTION_PERMISSION
    scope = TRANSACTION_SCOPE

    @property
    def name(self) -> str:
        return "transaction_batches"


class TransactionBatchMembers(_PerDirectory):
    primary_key = ["batchId", "transactionId"]
    path = "directories/{directoryId}/transactionbatches/{batchId}/transactions"
    parent_keys = ("directoryId", "batchId")
    permission = TRANSACTION_PERMISSION
    scope = TRANSACTION_SCOPE

    @property
    def name(self) -> str:
        return "transaction_batch_members"

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        directories = super().parent_slices()
        yield from self.child_slices(
            directories, TransactionBatches.path, "batchId", self.permission, self.scope
        )

    def to_record(self, element: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        record = super().to_record(element, stream_slice)
        record["transactionId"] = element.get("transactionId") or element.get("id")
        return record


class ContactTransactions(_PerDirectory):
    primary_key = "transactionId"
    path = "directories/{directoryId}/contacts/{contactId}/transactions"
    parent_keys = ("directoryId", "contactId")
    permission = TRANSACTION_PERMISSION
    scope = TRANSACTION_SCOPE

    @property
    def name(self) -> str:
        return "contact_transactions"

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        directories, contacts = super().parent_slices(), DirectoryContacts
        yield from self.child_slices(
            directories, contacts.path, "contactId", contacts.permission, contacts.scope
        )
