"""`divisions` (list, or per division when the list is missing) and the XM Directory transaction streams."""

from __future__ import annotations

from airbyte_cdk.models import SyncMode

from unit_tests.builders import BASE_URL, config, envelope
from unit_tests.helpers import run_read, state_values
from unit_tests.test_directory_streams import FORBIDDEN, POOL_1, data, list_directories, page, warnings

NOT_FOUND = {"meta": {"httpStatus": "404 - Not Found", "error": {"errorCode": "404", "errorMessage": "x"}}}


def test_divisions_come_from_the_list_when_qualtrics_serves_one(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/divisions", json=page([{"divisionId": "DV_1", "name": "Research", "status": "Active"}])
    )
    output = run_read(source, config(), "divisions", sync_mode=SyncMode.full_refresh)
    assert [(r["id"], r["name"]) for r in data(output, "divisions")] == [("DV_1", "Research")]


def test_without_a_division_list_each_users_division_is_read_once(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/divisions", status_code=404, json=NOT_FOUND)
    users = [{"id": f"UR_{i}", "divisionId": d} for i, d in enumerate(["DV_1", "DV_2", "DV_1", None])]
    api.get(f"{BASE_URL}/users", json=page(users))
    one = api.get(
        f"{BASE_URL}/divisions/DV_1", json=envelope({"id": "DV_1", "name": "Research", "status": "Active"})
    )
    api.get(f"{BASE_URL}/divisions/DV_2", json=envelope({"name": "Sales", "status": "Disabled"}))
    output = run_read(source, config(), "divisions", sync_mode=SyncMode.full_refresh)
    assert [(r["id"], r["name"], r["status"]) for r in data(output, "divisions")] == [
        ("DV_1", "Research", "Active"),
        ("DV_2", "Sales", "Disabled"),
    ]
    assert one.call_count == 1
    (warning,) = warnings(output)
    assert (
        "GET /divisions answered HTTP 404" in warning
        and "a division no user belongs to is missing" in warning
    )


def test_forbidden_divisions_are_one_warning_naming_the_scope(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/divisions", status_code=403, json=FORBIDDEN)
    output = run_read(source, config(), "divisions", sync_mode=SyncMode.full_refresh)
    (found,) = warnings(output)
    assert "read:divisions" in found and "Brand Administrator" in found and not output.errors


def test_transaction_batches_and_their_members_carry_parent_ids_across_pages(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    batches = f"{BASE_URL}/directories/{POOL_1}/transactionbatches"
    api.get(
        batches,
        json=page([{"batchId": "BT_1", "creationDate": "2024-01-01T00:00:00Z"}], f"{batches}?skipToken=BT_1"),
    )
    api.get(
        f"{batches}?skipToken=BT_1", complete_qs=True, json=page([{"batchId": "BT_2", "creationDate": None}])
    )
    api.get(f"{batches}/BT_1/transactions", json=page([{"transactionId": "CTR_1"}, {"id": "CTR_2"}]))
    api.get(f"{batches}/BT_2/transactions", json=page([]))
    output = run_read(
        source, config(), "transaction_batches", "transaction_batch_members", sync_mode=SyncMode.full_refresh
    )
    assert [r["batchId"] for r in data(output, "transaction_batches")] == ["BT_1", "BT_2"]
    assert [
        (r["directoryId"], r["batchId"], r["transactionId"])
        for r in data(output, "transaction_batch_members")
    ] == [
        (POOL_1, "BT_1", "CTR_1"),
        (POOL_1, "BT_1", "CTR_2"),
    ]


def test_contact_transactions_are_read_per_contact_with_their_data(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    api.get(
        f"{BASE_URL}/directories/{POOL_1}/contacts",
        json=page([{"contactId": "CID_1"}, {"contactId": "CID_2"}]),
    )
    transaction = {
        "transactionId": "CTR_1",
        "contactId": "CID_1",
        "mailingListId": "CG_1",
        "transactionDate": "2017-12-11 00:00:00",
        "data": {"amount": "546", "currency": "USD"},
    }
    api.get(f"{BASE_URL}/directories/{POOL_1}/contacts/CID_1/transactions", json=page([transaction]))
    api.get(f"{BASE_URL}/directories/{POOL_1}/contacts/CID_2/transactions", status_code=404, json=NOT_FOUND)
    output = run_read(source, config(), "contact_transactions", sync_mode=SyncMode.full_refresh)
    (record,) = data(output, "contact_transactions")
    assert record["directoryId"] == POOL_1 and record["data"] == {"amount": "546", "currency": "USD"}
    assert any("CID_2" in w for w in warnings(output))


def test_forbidden_transactions_are_one_warning_naming_the_scope(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    api.get(f"{BASE_URL}/directories/{POOL_1}/transactionbatches", status_code=403, json=FORBIDDEN)
    output = run_read(source, config(), "transaction_batches", sync_mode=SyncMode.full_refresh)
    (found,) = warnings(output)
    assert "read:contact_transactions" in found and not output.errors


def test_new_batches_whose_contacts_qualtrics_will_not_list_start_one_pass_over_every_contact(
    source, api
) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    batches = [
        {"batchId": "BT_old", "creationDate": "2025-01-01T00:00:00Z"},
        {"batchId": "BT_1", "creationDate": "2025-02-01T00:00:00Z"},
        {"batchId": "BT_2", "creationDate": "2025-02-02T00:00:00Z"},
    ]
    api.get(f"{BASE_URL}/directories/{POOL_1}/transactionbatches", json=page(batches))
    for batch in ("BT_1", "BT_2"):
        api.get(
            f"{BASE_URL}/directories/{POOL_1}/transactionbatches/{batch}/transactions",
            status_code=404,
            json=NOT_FOUND,
        )
    api.get(f"{BASE_URL}/directories/{POOL_1}/contacts", json=page([{"contactId": "CID_1"}]))
    api.get(
        f"{BASE_URL}/directories/{POOL_1}/contacts/CID_1/transactions",
        json=page([{"transactionId": "CTR_9"}]),
    )
    swept = {
        "batchesThrough": "2025-01-01T00:00:00Z",
        "batchesAtThrough": ["BT_old"],
        "sweep": None,
        "swept": True,
    }
    state = {"contact_transactions": {"states": [{"partition": {"directory_id": POOL_1}, "cursor": swept}]}}
    output = run_read(source, config(), "contact_transactions", state=state)
    assert not output.errors
    assert [r["transactionId"] for r in data(output, "contact_transactions")] == ["CTR_9"], (
        "the pass, at once"
    )
    (warning,) = warnings(output)
    assert "falls back to its bounded pass over every contact" in warning and POOL_1 in warning
    (entry,) = state_values(output)[-1]["states"]
    cursor = entry["cursor"]
    assert cursor["swept"] is True and "passAgain" not in cursor, "one pass for both batches, done"
    assert cursor["batchesThrough"] == "2025-02-02T00:00:00Z"
