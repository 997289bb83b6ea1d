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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .data import EPOCH_MS, iso_seconds
from .directory import DAY_MS, _api_url, _id, directory_of, page_size, skip_token_page
from .errors import ApiError
from .ids import digest

if TYPE_CHECKING:
    from .server import Handler

BATCHES_PER_DIRECTORY = 2
PRODUCTS = ("Checking", "Savings", "Home equity", "Credit card")


def division(h: Handler, division_id: str, **_: Any) -> dict[str, Any]:
    if division_id != directory_of(h.sim.store).division_id:
        raise ApiError(404, "NF_1", f"Division {division_id} was not found.")
    return {"id": division_id, "name": "Research Division", "status": "Active", "permissions": {}}


def contact_transactions(h: Handler, directory_id: str, contact_id: str) -> list[dict[str, Any]]:
    directory = directory_of(h.sim.store)
    contacts = directory.directory_contacts(directory_id)
    if not any(c["contactId"] == contact_id for c in contacts):
        raise ApiError(404, "NF_1", f"Contact {contact_id} was not found.")
    lists = [ml["mailingListId"] for ml in directory.directory_lists(directory_id)]
    count = digest("transactions", h.sim.config.seed, contact_id)[0] % 3
    rows = []
    for n in range(count):
        raw = digest("transaction", h.sim.config.seed, contact_id, n)
        moment = EPOCH_MS - (raw[0] + 1) * DAY_MS
        rows.append(
            {
                "transactionId": _id("CTR_", h.sim.config.seed, contact_id, n),
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


def _batches(h: Handler, directory_id: str) -> dict[str, list[dict[str, Any]]]:
    """batchId -> the directory's transactions in it (each transaction in one batch)."""
    contacts = directory_of(h.sim.store).directory_contacts(directory_id)
    ids = [_id("BT_", h.sim.config.seed, directory_id, b) for b in range(BATCHES_PER_DIRECTORY)]
    batches: dict[str, list[dict[str, Any]]] = {batch_id: [] for batch_id in ids}
    for contact in contacts:
        for row in contact_transactions(h, directory_id, contact["contactId"]):
            batch = ids[digest("batch", row["transactionId"])[0] % len(ids)]
            batches[batch].append({"transactionId": row["transactionId"], "contactId": row["contactId"]})
    return batches


def list_transaction_batches(
    h: Handler, directory_id: str, query: dict[str, list[str]], **_: Any
) -> dict[str, Any]:
    elements = [
        {"batchId": batch_id, "creationDate": iso_seconds(EPOCH_MS - (20 - n) * DAY_MS)}
        for n, batch_id in enumerate(_batches(h, directory_id))
    ]
    url = _api_url(h, f"/directories/{directory_id}/transactionbatches")
    return skip_token_page(
        elements, "batchId", query, url, page_size(query, h.sim.config.page_size)
    ).as_result()


def list_batch_transactions(
    h: Handler, directory_id: str, batch_id: str, query: dict[str, list[str]], **_: Any
) -> dict[str, Any]:
    members = _batches(h, directory_id).get(batch_id)
    if members is None:
        raise ApiError(404, "NF_1", f"Transaction batch {batch_id} was not found.")
    url = _api_url(h, f"/directories/{directory_id}/transactionbatches/{batch_id}/transactions")
    size = page_size(query, h.sim.config.page_size)
    return skip_token_page(members, "transactionId", query, url, size).as_result()


def list_contact_transactions(
    h: Handler, directory_id: str, contact_id: str, query: dict[str, list[str]], **_: Any
) -> dict[str, Any]:
    rows = contact_transactions(h, directory_id, contact_id)
    url = _api_url(h, f"/directories/{directory_id}/contacts/{contact_id}/transactions")
    size = page_size(query, h.sim.config.page_size)
    return skip_token_page(rows, "transactionId", query, url, size).as_result()


ROUTE_SPECS: tuple[tuple[str, str, str, Callable[..., Any], str], ...] = (
    ("GET", r"/divisions/([^/]+)", "GET divisions/{id}", division, "default"),
    (
        "GET",
        r"/directories/([^/]+)/transactionbatches",
        "GET directories/{id}/transactionbatches",
        list_transaction_batches,
        "default",
    ),
    (
        "GET",
        r"/directories/([^/]+)/transactionbatches/([^/]+)/transactions",
        "GET transactionbatches/{id}/transactions",
        list_batch_transactions,
        "default",
    ),
    (
        "GET",
        r"/directories/([^/]+)/contacts/([^/]+)/transactions",
        "GET contacts/{id}/transactions",
        list_contact_transactions,
        "default",
    ),
)
