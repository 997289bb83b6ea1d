"""Divisions and XM Directory transactions.

- `GET /divisions/{divisionId}` is the only division read Qualtrics documents; there is deliberately no
  `GET /divisions` list here (the router answers 404), so connectors must cope without one.
- `GET /directories/{id}/transactionbatches` (`batchId`, `creationDate`),
  `.../transactionbatches/{batchId}/transactions` and `/directories/{id}/contacts/{contactId}/transactions`
  (`transactionId`, `contactId`, `mailingListId`, `transactionDate` as "YYYY-MM-DD hh:mm:ss", `data`)
  page by `skipToken` like the other directory endpoints.

Every contact has 0-2 transactions derived from the seed; each directory's transactions fall in two
batches.
"""

from __future__ import annotations

import time
from typing import Any

from .data import EPOCH_MS, iso_seconds
from .directory import DAY_MS, Directory, _id
from .directory_routes import _skip_token_result
from .errors import ApiError
from .ids import digest
from .routing import Request, Route

BATCHES_PER_DIRECTORY = 2
PRODUCTS = ("Checking", "Savings", "Home equity", "Credit card")


def contact_transactions(directory: Directory, directory_id: str, contact_id: str) -> list[dict[str, Any]]:
    directory.directory_contacts(directory_id)
    if directory.contact_index.get(contact_id) != directory_id:
        raise ApiError(404, "NF_1", f"Contact {contact_id} was not found.")
    lists = [ml["mailingListId"] for ml in directory.directory_lists(directory_id)]
    table = directory.transaction_table()
    if table is not None and table.directory_id == directory_id:  # at size (directory_scale.py)
        generated = [
            {
                "transactionId": row["transactionId"],
                "contactId": contact_id,
                "mailingListId": lists[0] if lists else None,
                "transactionDate": row["transactionDate"],
                "data": {"amount": row["amount"], "currency": "USD", "productNumber": PRODUCTS[0]},
            }
            for row in table.of_contact(contact_id)
        ]
        return generated + directory.changes.added_transactions(contact_id)
    generated = _small_transactions(directory, contact_id, lists)
    return generated + directory.changes.added_transactions(contact_id)


def _small_transactions(directory: Directory, contact_id: str, lists: list[str]) -> list[dict[str, Any]]:
    count = digest("transactions", directory.seed, contact_id)[0] % 3
    rows = []
    for n in range(count):
        raw = digest("transaction", directory.seed, contact_id, n)
        moment = EPOCH_MS - (raw[0] + 1) * DAY_MS
        rows.append(
            {
                "transactionId": _id("CTR_", directory.seed, contact_id, n),
                "contactId": contact_id,
                "mailingListId": lists[raw[1] % len(lists)],
                "transactionDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment // 1000)),
                "data": {
                    "amount": str(10 + raw[2]),
                    "currency": "USD",
                    "productNumber": PRODUCTS[raw[3] % 4],
                },
            }
        )
    return rows


def batch_list(directory: Directory, directory_id: str) -> list[dict[str, Any]]:
    """The directory's batches, oldest first: generated ones, then those added at runtime."""
    table = directory.transaction_table()
    if table is not None and table.directory_id == directory_id:
        generated = [
            {"batchId": batch_id, "creationDate": iso_seconds(created)}
            for batch_id, created in zip(table.batch_ids, table.batch_created, strict=True)
        ]
    else:
        generated = [
            {"batchId": batch_id, "creationDate": iso_seconds(EPOCH_MS - (20 - n) * DAY_MS)}
            for n, batch_id in enumerate(_small_batches(directory, directory_id))
        ]
    added = [
        {"batchId": batch.batch_id, "creationDate": iso_seconds(batch.created_ms)}
        for batch in directory.changes.added_batches(directory_id)
    ]
    return generated + added


def batch_members(directory: Directory, directory_id: str, batch_id: str) -> list[dict[str, Any]] | None:
    """The batch's transactions (`transactionId`, `contactId`); None for an unknown batch."""
    for batch in directory.changes.added_batches(directory_id):
        if batch.batch_id == batch_id:
            return list(batch.members)
    table = directory.transaction_table()
    if table is not None and table.directory_id == directory_id:
        return table.members(batch_id)
    return _small_batches(directory, directory_id).get(batch_id)


def _small_batches(directory: Directory, directory_id: str) -> dict[str, list[dict[str, Any]]]:
    """batchId -> the directory's generated transactions in it (each transaction in one batch)."""
    ids = [_id("BT_", directory.seed, directory_id, b) for b in range(BATCHES_PER_DIRECTORY)]
    found: dict[str, list[dict[str, Any]]] = {batch_id: [] for batch_id in ids}
    lists = [ml["mailingListId"] for ml in directory.directory_lists(directory_id)]
    for contact in directory.directory_contacts(directory_id):
        for row in _small_transactions(directory, contact["contactId"], lists):
            batch = ids[digest("batch", row["transactionId"])[0] % len(ids)]
            found[batch].append({"transactionId": row["transactionId"], "contactId": row["contactId"]})
    return found


def get_division(request: Request) -> dict[str, Any]:
    division_id = request.params["divisionId"]
    if division_id != request.sim.directory.division_id:
        raise ApiError(404, "NF_1", f"Division {division_id} was not found.")
    return {"id": division_id, "name": "Research Division", "status": "Active", "permissions": {}}


def list_transaction_batches(request: Request) -> dict[str, Any]:
    directory_id = request.params["directoryId"]
    elements = batch_list(request.sim.directory, directory_id)
    return _skip_token_result(request, elements, "batchId", f"/directories/{directory_id}/transactionbatches")


def list_batch_transactions(request: Request) -> dict[str, Any]:
    directory_id, batch_id = request.params["directoryId"], request.params["batchId"]
    members = batch_members(request.sim.directory, directory_id, batch_id)
    if members is None:
        raise ApiError(404, "NF_1", f"Transaction batch {batch_id} was not found.")
    path = f"/directories/{directory_id}/transactionbatches/{batch_id}/transactions"
    return _skip_token_result(request, members, "transactionId", path)


def list_contact_transactions(request: Request) -> dict[str, Any]:
    directory_id, contact_id = request.params["directoryId"], request.params["contactId"]
    rows = contact_transactions(request.sim.directory, directory_id, contact_id)
    path = f"/directories/{directory_id}/contacts/{contact_id}/transactions"
    return _skip_token_result(request, rows, "transactionId", path)


ROUTES = (
    Route("GET", "/divisions/{divisionId}", get_division),
    Route("GET", "/directories/{directoryId}/transactionbatches", list_transaction_batches),
    Route(
        "GET",
        "/directories/{directoryId}/transactionbatches/{batchId}/transactions",
        list_batch_transactions,
        kind="GET transactionbatches/{id}/transactions",
    ),
    Route(
        "GET",
        "/directories/{directoryId}/contacts/{contactId}/transactions",
        list_contact_transactions,
        kind="GET contacts/{id}/transactions",
    ),
)
