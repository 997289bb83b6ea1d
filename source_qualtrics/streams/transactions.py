"""XM Directory transactions: `transaction_batches`, `transaction_batch_members`, `contact_transactions`.

A transaction is one dated interaction recorded on a contact (a purchase, a ticket), with free-form
`data`; a batch groups transactions for a distribution. Every endpoint pages with `skipToken` and the
connector follows `nextPage` as given. None has a date filter, so all three are full refresh.

`contact_transactions` is listed per contact (`/directories/{id}/contacts/{contactId}/transactions`,
the only complete list Qualtrics documents): one call per contact, 1,000,000 calls a sync for a
directory of a million contacts. So the stream is not suggested for new connections (metadata.yaml),
and its incremental mode pays per contact only once, and then only for contacts that changed:

- a first pass reads every contact's transactions, at most `contact_transactions_per_sync` contacts a
  sync, resuming at the contact page where the previous sync stopped (the page's URL is the state);
- every sync reads the contacts named by transaction batches created since the newest batch seen
  (transactions are imported in batches), so a new transaction arrives with the next sync.

A transaction created outside any batch, or edited, arrives only with a full refresh (or a reset).
The element shape of a batch's transaction list is not in the public reference; the stream keeps
`transactionId` (or `id`) and `contactId` when present.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.dates import api_format, parse_instant
from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import Forbidden
from source_qualtrics.streams.directory import DirectoryContacts, _PerDirectory
from source_qualtrics.streams.partitioned_state import damaged_state

logger = logging.getLogger("airbyte")

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


class ContactTransactions(_PerDirectory, IncrementalMixin):
    """Full refresh: every contact, one call each. Incremental: a bounded first pass, then changes only.

    State, per directory in the CDK's per-partition shape: `{"states": [{"partition": {"directory_id":
    "POOL_..."}, "cursor": {"batchesThrough": <newest batch creationDate read>, "batchesAtThrough": [the batch
    ids created then], "sweep": <URL of the next contact page of the first pass, or null>, "swept":
    <first pass done>, "contactsRead": n}}]}`.
    """

    primary_key = "transactionId"
    cursor_field = "transactionDate"  # nominal: the state holds batches and the first pass's position
    path = "directories/{directoryId}/contacts/{contactId}/transactions"
    parent_keys = ("directoryId", "contactId")
    permission = TRANSACTION_PERMISSION
    scope = TRANSACTION_SCOPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: dict[str, dict[str, Any]] = {}
        self._budget = 0

    @property
    def name(self) -> str:
        return "contact_transactions"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        if not self._cursors:
            return {}
        return {
            "states": [
                {"partition": {"directory_id": d}, "cursor": dict(cursor)}
                for d, cursor in sorted(self._cursors.items())
            ]
        }

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors = {}
        if not value:
            return
        states = value.get("states")
        if not isinstance(states, list):
            raise damaged_state(
                self.name, 'it is not {"states": [{"partition": {"directory_id": ...}, ...}]}'
            )
        for entry in states:
            partition = entry.get("partition") if isinstance(entry, Mapping) else None
            cursor = entry.get("cursor") if isinstance(entry, Mapping) else None
            directory_id = partition.get("directory_id") if isinstance(partition, Mapping) else None
            if not isinstance(directory_id, str) or not isinstance(cursor, Mapping):
                raise damaged_state(self.name, "it has an entry without a directory_id or cursor")
            self._cursors[directory_id] = dict(cursor)

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        directories, contacts = super().parent_slices(), DirectoryContacts
        yield from self.child_slices(
            directories, contacts.path, "contactId", contacts.permission, contacts.scope
        )

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        if sync_mode != SyncMode.incremental:
            logger.info("contact_transactions (full refresh): one request per contact of every directory")
            yield from super().stream_slices(sync_mode=sync_mode)
            return
        self._budget = self._config.contact_transactions_per_sync if self._config is not None else 5000
        try:
            for directory in _PerDirectory.parent_slices(self):
                directory_id = directory["directoryId"]
                yield {"directoryId": directory_id, "phase": "batches"}
                while self._budget > 0 and not self._cursors.get(directory_id, {}).get("swept"):
                    yield {"directoryId": directory_id, "phase": "sweep"}
        except Forbidden as forbidden:
            self.warn_forbidden(str(forbidden), forbidden.key)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        current = stream_slice or {}
        if sync_mode != SyncMode.incremental or "phase" not in current:
            yield from super().read_records(sync_mode, cursor_field, current, stream_state)
        elif current["phase"] == "batches":
            yield from self.read_new_batches(current["directoryId"])
        else:
            yield from self.read_sweep_page(current["directoryId"])

    def contact_records(self, directory_id: str, contact_ids: Iterable[str]) -> Iterable[Mapping[str, Any]]:
        """The transactions of each contact, in order (the next contacts' read ahead)."""
        contacts = ({"directoryId": directory_id, "contactId": contact_id} for contact_id in contact_ids)
        for _, records in self.children(contacts, SyncMode.full_refresh):
            yield from records

    def read_new_batches(self, directory_id: str) -> Iterable[Mapping[str, Any]]:
        """The transactions of contacts named by batches created since the newest batch already read."""
        first_sync = directory_id not in self._cursors
        cursor = self._cursors.setdefault(
            directory_id, {"batchesThrough": None, "sweep": None, "swept": False}
        )
        through = parse_instant(cursor.get("batchesThrough"))
        read_at_through = set(cursor.get("batchesAtThrough") or ())
        newest, at_newest, contacts = through, set(read_at_through), set()
        batches_path = TransactionBatches.path.format(directoryId=directory_id)
        for batch in self.paginate_parent(batches_path, self.permission, self.scope):
            created, batch_id = parse_instant(batch.get("creationDate")), batch.get("batchId")
            if created is None or not isinstance(batch_id, str):
                continue
            if newest is None or created > newest:
                newest, at_newest = created, {batch_id}
            elif created == newest:
                at_newest.add(batch_id)
            seen = through is not None and (
                created < through or (created == through and batch_id in read_at_through)
            )
            if first_sync or seen:
                continue  # the first pass reads every contact anyway; older batches were read
            members_path = TransactionBatchMembers.path.format(directoryId=directory_id, batchId=batch_id)
            try:
                for member in self._client.paginate(members_path):
                    if isinstance(member.get("contactId"), str):
                        contacts.add(member["contactId"])
            except QualtricsApiError as error:
                if not self.skip_vanished_parent(error, {"directoryId": directory_id, "batchId": batch_id}):
                    raise
        if contacts:
            logger.info(
                "contact_transactions: directory %s, %d contact(s) in new transaction batches",
                directory_id,
                len(contacts),
            )
        yield from self.contact_records(directory_id, sorted(contacts))
        if newest is not None:
            cursor["batchesThrough"], cursor["batchesAtThrough"] = api_format(newest), sorted(at_newest)

    def read_sweep_page(self, directory_id: str) -> Iterable[Mapping[str, Any]]:
        """One page of the first pass: its contacts' transactions, then the next page as the position."""
        cursor = self._cursors[directory_id]
        position = cursor.get("sweep") or DirectoryContacts.path.format(directoryId=directory_id)
        try:
            page = self._client.get_result(position)
        except QualtricsApiError as error:
            if error.status != 400 or not cursor.get("sweep"):
                raise
            logger.warning(
                "contact_transactions: Qualtrics refused the saved page of directory %s (%s); "
                "the first pass starts over",
                directory_id,
                error,
            )
            cursor["sweep"], cursor["contactsRead"] = None, 0
            return
        elements = [e for e in page.get("elements") or [] if isinstance(e, Mapping)]
        contact_ids = [
            element["contactId"] for element in elements if isinstance(element.get("contactId"), str)
        ]
        yield from self.contact_records(directory_id, contact_ids)
        next_page = page.get("nextPage")
        self._budget -= max(1, len(elements))
        cursor["contactsRead"] = int(cursor.get("contactsRead") or 0) + len(elements)
        cursor["sweep"] = next_page if isinstance(next_page, str) and next_page else None
        cursor["swept"] = cursor["sweep"] is None
        if cursor["swept"]:
            logger.info(
                "contact_transactions: first pass over directory %s done (%d contacts); from now on "
                "only contacts in new transaction batches are read",
                directory_id,
                cursor["contactsRead"],
            )
        elif self._budget <= 0:
            logger.warning(
                "contact_transactions: first pass over directory %s at %d contacts; it continues with "
                "the next sync (contact_transactions_per_sync)",
                directory_id,
                cursor["contactsRead"],
            )
