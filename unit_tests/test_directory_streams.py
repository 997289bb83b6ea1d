"""Account, directory, distribution, webhook and response-id streams against requests-mock."""

from __future__ import annotations

from typing import Any

from airbyte_cdk.models import Level, SyncMode

from unit_tests.builders import (
    BASE_URL,
    FakeExportApi,
    config,
    envelope,
    error_body,
    ndjson,
    survey,
    zip_of,
)
from unit_tests.helpers import run_read, state_values

SV_A, SV_B = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb"
POOL_1, POOL_2 = "POOL_111111111111111", "POOL_222222222222222"
FORBIDDEN = error_body("403 - Forbidden", "AUTH_403", "You do not have permission to access this resource.")


def page(elements: list[dict[str, Any]], next_page: str | None = None) -> dict[str, Any]:
    return envelope({"elements": elements, "nextPage": next_page})


def contact(contact_id: str, **fields: Any) -> dict[str, Any]:
    return {"contactId": contact_id, "firstName": "Ada", "lastName": "Lovelace", "email": "a@x.io", **fields}


def data(output, stream: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [m.record.data for m in output.records if m.record.stream == stream]


def warnings(output) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.log.message for m in output.logs if m.log.level == Level.WARN]


def list_directories(api, *ids: str) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/directories", json=page([{"directoryId": i, "name": i} for i in ids]))


def test_directory_contacts_follow_skip_token_pages_and_carry_the_directory_id(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    first = f"{BASE_URL}/directories/{POOL_1}/contacts"
    api.get(first, json=page([contact("CID_1")], f"{first}?pageSize=1&skipToken=CID_1"))
    api.get(
        f"{first}?pageSize=1&skipToken=CID_1",
        complete_qs=True,
        json=page([contact("CID_2")], f"{first}?pageSize=1&skipToken=CID_2"),
    )
    api.get(f"{first}?pageSize=1&skipToken=CID_2", complete_qs=True, json=page([contact("CID_3")]))
    api.get(f"{BASE_URL}/directories/{POOL_2}/contacts", json=page([contact("CID_9", unsubscribed=True)]))
    output = run_read(source, config(), "directory_contacts", sync_mode=SyncMode.full_refresh)
    records = data(output, "directory_contacts")
    assert [(r["directoryId"], r["contactId"]) for r in records] == [
        (POOL_1, "CID_1"),
        (POOL_1, "CID_2"),
        (POOL_1, "CID_3"),
        (POOL_2, "CID_9"),
    ]
    assert records[3]["unsubscribed"] is True
    assert records[0]["email"] == "a@x.io"


def test_users_follow_the_offset_in_next_page(source, api) -> None:  # type: ignore[no-untyped-def]
    users = f"{BASE_URL}/users"
    api.get(users, json=page([{"id": "UR_1", "username": "a"}], f"{users}?offset=1"))
    api.get(f"{users}?offset=1", complete_qs=True, json=page([{"id": "UR_2", "username": "b"}]))
    output = run_read(source, config(), "users", sync_mode=SyncMode.full_refresh)
    assert [r["id"] for r in data(output, "users")] == ["UR_1", "UR_2"]


def test_mailing_list_contacts_carry_directory_and_list_ids(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    lists = f"{BASE_URL}/directories/{POOL_1}/mailinglists"
    api.get(lists, json=page([{"mailingListId": "CG_1"}], f"{lists}?skipToken=CG_1"))
    api.get(f"{lists}?skipToken=CG_1", complete_qs=True, json=page([{"mailingListId": "CG_2"}]))
    api.get(f"{lists}/CG_1/contacts", json=page([contact("CID_1"), contact("CID_2")]))
    api.get(f"{lists}/CG_2/contacts", json=page([contact("CID_1")]))
    output = run_read(source, config(), "mailing_list_contacts", sync_mode=SyncMode.full_refresh)
    assert [
        (r["directoryId"], r["mailingListId"], r["contactId"]) for r in data(output, "mailing_list_contacts")
    ] == [
        (POOL_1, "CG_1", "CID_1"),
        (POOL_1, "CG_1", "CID_2"),
        (POOL_1, "CG_2", "CID_1"),
    ]


def test_a_403_is_a_warning_naming_the_scope_and_the_other_streams_still_sync(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/users", status_code=403, json=FORBIDDEN)
    api.get(f"{BASE_URL}/directories", status_code=403, json=FORBIDDEN)
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A)]))
    api.get(f"{BASE_URL}/eventsubscriptions", json=page([{"id": "SUB_1", "topics": "t"}]))
    output = run_read(
        source,
        config(),
        "users",
        "directory_contacts",
        "surveys",
        "event_subscriptions",
        sync_mode=SyncMode.full_refresh,
    )
    assert not output.errors
    assert data(output, "users") == [] and data(output, "directory_contacts") == []
    assert [r["id"] for r in data(output, "surveys")] == [SV_A]
    assert [r["id"] for r in data(output, "event_subscriptions")] == ["SUB_1"]
    found = warnings(output)
    assert any("'users'" in w and "read:users" in w and "403" in w for w in found), found
    assert any("'directory_contacts'" in w and "read:directories" in w for w in found), found
    assert api.call_count == 4, "a 403 is not retried"


def test_a_403_on_one_directory_skips_only_that_directory(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    api.get(f"{BASE_URL}/directories/{POOL_1}/contacts", status_code=403, json=FORBIDDEN)
    api.get(f"{BASE_URL}/directories/{POOL_2}/contacts", json=page([contact("CID_9")]))
    output = run_read(source, config(), "directory_contacts", sync_mode=SyncMode.full_refresh)
    assert not output.errors
    assert [r["contactId"] for r in data(output, "directory_contacts")] == ["CID_9"]
    assert any("read:directory_contacts" in w for w in warnings(output))


def test_groups_embed_their_members_and_say_so_when_members_are_forbidden(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/groups", json=page([{"id": "GR_1", "name": "One"}, {"id": "GR_2", "name": "Two"}]))
    api.get(f"{BASE_URL}/groups/GR_1/members", json=page([{"id": "UR_1"}, {"id": "UR_2"}]))
    api.get(f"{BASE_URL}/groups/GR_2/members", status_code=403, json=FORBIDDEN)
    output = run_read(source, config(), "groups", sync_mode=SyncMode.full_refresh)
    groups = data(output, "groups")
    assert groups[0]["members"] == [{"id": "UR_1"}, {"id": "UR_2"}]
    assert groups[1].get("members") is None
    assert any("GR_2" in w and "read:groups" in w for w in warnings(output))


def distribution(dist_id: str, sent: str, request_type: str = "Invite") -> dict[str, Any]:
    return {"id": dist_id, "requestType": request_type, "sendDate": sent, "stats": {"sent": 3}}


def test_distributions_are_incremental_per_survey_with_a_stats_lookback(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    mock = api.get(
        f"{BASE_URL}/distributions",
        [
            {"json": page([distribution("EMD_1", "2024-03-01T10:00:00Z")])},
            {
                "json": page(
                    [
                        distribution("EMD_2", "2024-02-01T10:00:00Z"),
                        distribution("EMD_F", "2999-01-01T00:00:00Z"),
                    ]
                )
            },
        ],
    )
    state = {
        "distributions": {
            "states": [{"partition": {"survey_id": SV_A}, "cursor": {"sendDate": "2024-02-20T00:00:00Z"}}]
        }
    }
    output = run_read(source, config(), "distributions", state=state)
    records = data(output, "distributions")
    assert [(r["surveyId"], r["id"]) for r in records] == [(SV_A, "EMD_1"), (SV_B, "EMD_2"), (SV_B, "EMD_F")]
    first, second = mock.request_history
    assert first.qs == {"surveyid": [SV_A.lower()], "sendstartdate": ["2024-02-06t00:00:00z"]}
    assert second.qs == {"surveyid": [SV_B.lower()]}
    final = state_values(output)[-1]
    assert final == {
        "states": [
            {"partition": {"survey_id": SV_A}, "cursor": {"sendDate": "2024-03-01T10:00:00Z"}},
            {"partition": {"survey_id": SV_B}, "cursor": {"sendDate": "2024-02-01T10:00:00Z"}},
        ]
    }, "a distribution scheduled in the future does not move the cursor"


def test_distribution_history_skips_test_emails_and_carries_parent_ids(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A)]))
    api.get(
        f"{BASE_URL}/distributions",
        json=page(
            [
                distribution("EMD_1", "2024-03-01T10:00:00Z"),
                distribution("EMD_2", "2024-03-02T10:00:00Z"),
                distribution("EMD_T", "2024-03-03T10:00:00Z", "TestEmail"),
            ]
        ),
    )
    history = f"{BASE_URL}/distributions/EMD_1/history"
    api.get(
        history,
        json=page(
            [{"contactId": "CID_1", "status": "SurveyFinished", "responseId": "R_1"}],
            f"{history}?skipToken=CID_1",
        ),
    )
    api.get(
        f"{history}?skipToken=CID_1",
        complete_qs=True,
        json=page([{"contactId": "CID_2", "status": "Opened"}]),
    )
    api.get(
        f"{BASE_URL}/distributions/EMD_2/history",
        status_code=400,
        json=error_body(
            "400 - Bad Request", "CP_TD_GER_NP", "The email-distribution(EMD_2) has no recipients"
        ),
    )
    test_email = api.get(f"{BASE_URL}/distributions/EMD_T/history", json=page([]))
    output = run_read(source, config(), "distribution_history", sync_mode=SyncMode.full_refresh)
    assert not output.errors
    records = data(output, "distribution_history")
    assert [(r["surveyId"], r["distributionId"], r["contactId"]) for r in records] == [
        (SV_A, "EMD_1", "CID_1"),
        (SV_A, "EMD_1", "CID_2"),
    ]
    assert records[0]["responseId"] == "R_1"
    assert not test_email.called
    assert any("EMD_2" in w for w in warnings(output))


GATEWAY_TIMEOUT = error_body("504 - Gateway Timeout", "GW_504", "The request timed out.")


def test_a_history_page_that_keeps_timing_out_is_read_again_in_smaller_pages(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A)]))
    api.get(
        f"{BASE_URL}/distributions",
        json=page(
            [distribution("EMD_1", "2024-03-01T10:00:00Z"), distribution("EMD_2", "2024-03-02T10:00:00Z")]
        ),
    )
    first = f"{BASE_URL}/distributions/EMD_1/history"
    api.get(first, status_code=504, json=GATEWAY_TIMEOUT)  # at Qualtrics' default page size, every time
    api.get(
        f"{first}?pageSize=50",
        complete_qs=True,
        json=page([{"contactId": "CID_1"}], f"{first}?pageSize=50&skipToken=CID_1"),
    )
    api.get(f"{first}?pageSize=50&skipToken=CID_1", complete_qs=True, json=page([{"contactId": "CID_2"}]))
    api.get(f"{BASE_URL}/distributions/EMD_2/history", status_code=504, json=GATEWAY_TIMEOUT)  # read ahead
    second = api.get(
        f"{BASE_URL}/distributions/EMD_2/history?pageSize=50",
        complete_qs=True,
        json=page([{"contactId": "CID_3"}]),
    )
    output = run_read(source, config(), "distribution_history", sync_mode=SyncMode.full_refresh)
    assert not output.errors
    records = data(output, "distribution_history")
    assert [(r["distributionId"], r["contactId"]) for r in records] == [
        ("EMD_1", "CID_1"),
        ("EMD_1", "CID_2"),
        ("EMD_2", "CID_3"),
    ]
    assert second.call_count == 1, "the next distribution goes on at the size that worked, not smaller"
    (warning,) = [w for w in warnings(output) if w.startswith("distribution_history")]
    # both histories are read at once: whichever timed out first stepped the size down, once
    assert ("EMD_1" in warning or "EMD_2" in warning) and "50 recipients per page" in warning


def test_a_failed_history_costs_only_its_distribution_and_keeps_its_surveys_cursor(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    api.get(
        f"{BASE_URL}/distributions?surveyId={SV_A}",
        json=page(
            [distribution("EMD_1", "2024-03-01T10:00:00Z"), distribution("EMD_2", "2024-03-02T10:00:00Z")]
        ),
    )
    api.get(
        f"{BASE_URL}/distributions?surveyId={SV_B}",
        json=page([distribution("EMD_3", "2024-03-03T10:00:00Z")]),
    )
    no_recipients = error_body(
        "400 - Bad Request", "CP_TD_GER_NP", "The email-distribution(EMD_1) has no recipients"
    )
    api.get(f"{BASE_URL}/distributions/EMD_1/history", status_code=400, json=no_recipients)
    api.get(f"{BASE_URL}/distributions/EMD_2/history", json=page([{"contactId": "CID_2"}]))
    api.get(f"{BASE_URL}/distributions/EMD_3/history", status_code=502, json=GATEWAY_TIMEOUT)
    output = run_read(source, config(), "distribution_history")
    assert not output.errors
    assert [r["contactId"] for r in data(output, "distribution_history")] == ["CID_2"]
    skipped = [w for w in warnings(output) if w.startswith("distribution_history")]
    assert len(skipped) == 2 and "EMD_1" in skipped[0] and "EMD_3" in skipped[1] and "next sync" in skipped[1]
    (final,) = state_values(output)[-1:]
    cursors = {entry["partition"]["survey_id"] for entry in final["states"]}
    assert cursors == {SV_A}, "a test distribution has nothing to read again; EMD_3 is read by the next sync"


def id_only_file(*response_ids: str) -> bytes:
    lines = [
        {"responseId": rid, "values": {"recordedDate": "2024-01-01T00:00:00.000Z"}} for rid in response_ids
    ]
    return zip_of({"ids.json": ndjson(lines)})


def test_response_ids_full_refresh_runs_one_id_only_export_per_survey(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B)]))
    a = FakeExportApi(api, SV_A, id_only_file("R_a1", "R_a2"))
    b = FakeExportApi(api, SV_B, id_only_file("R_b1"))
    output = run_read(source, config(), "response_ids", sync_mode=SyncMode.full_refresh)
    records = data(output, "response_ids")
    # the two exports run at once: each survey's ids come in file order, the surveys in completion order
    assert sorted((r["surveyId"], r["responseId"]) for r in records) == [
        (SV_A, "R_a1"),
        (SV_A, "R_a2"),
        (SV_B, "R_b1"),
    ]
    assert [r["responseId"] for r in records if r["surveyId"] == SV_A] == ["R_a1", "R_a2"]
    assert len({r["snapshotAt"] for r in records}) == 1
    assert (
        a.bodies
        == b.bodies
        == [
            {
                "format": "ndjson",
                "compress": True,
                "questionIds": [],
                "embeddedDataIds": [],
                "surveyMetadataIds": ["recordedDate"],
            }
        ]
    )


def test_incremental_response_ids_export_only_surveys_whose_deleted_count_changed(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B), survey("SV_ccccccccccccccc")]))
    a = FakeExportApi(api, SV_A, id_only_file("R_a1"))
    b = FakeExportApi(api, SV_B, id_only_file("R_b1"))
    api.get(f"{BASE_URL}/surveys/{SV_A}", json=envelope({"id": SV_A, "responseCounts": {"deleted": 2}}))
    api.get(f"{BASE_URL}/surveys/{SV_B}", json=envelope({"id": SV_B, "responseCounts": {"deleted": 1}}))
    api.get(
        f"{BASE_URL}/surveys/SV_ccccccccccccccc",
        json=envelope({"id": "SV_ccccccccccccccc", "responseCounts": {"deleted": 0}}),
    )
    state = {
        "response_ids": {
            "states": [
                {
                    "partition": {"survey_id": SV_A},
                    "cursor": {"snapshotAt": "2024-01-01T00:00:00.000Z", "deletedCount": 1},
                },
                {
                    "partition": {"survey_id": SV_B},
                    "cursor": {"snapshotAt": "2024-01-01T00:00:00.000Z", "deletedCount": 1},
                },
            ]
        }
    }
    output = run_read(source, config(), "response_ids", state=state)
    assert [r["responseId"] for r in data(output, "response_ids")] == ["R_a1"]
    assert a.start.call_count == 1 and b.start.call_count == 0
    cursors = {e["partition"]["survey_id"]: e["cursor"] for e in state_values(output)[-1]["states"]}
    assert cursors[SV_A]["deletedCount"] == 2 and cursors[SV_A]["snapshotAt"] > "2024-01-01"
    assert cursors[SV_B] == {"snapshotAt": "2024-01-01T00:00:00.000Z", "deletedCount": 1}
    assert "SV_ccccccccccccccc" not in cursors, "a survey without deletions needs no snapshot"
