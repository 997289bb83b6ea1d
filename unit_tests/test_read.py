from __future__ import annotations

import threading
from typing import Any

import pendulum
import requests
from airbyte_cdk.models import SyncMode

from source_qualtrics.export import ExportTiming
from source_qualtrics.streams.responses import recheck_seconds
from unit_tests.builders import (
    BASE_URL,
    FakeExportApi,
    config,
    envelope,
    error_body,
    ndjson,
    response,
    survey,
    zip_of,
)
from unit_tests.helpers import cursor_of, run_read, state_values

SURVEYS = f"{BASE_URL}/surveys"
SV_A, SV_B, SV_C = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb", "SV_ccccccccccccccc"


def list_surveys(api, *ids: str) -> None:  # type: ignore[no-untyped-def]
    api.get(SURVEYS, json=envelope({"elements": [survey(i) for i in ids], "nextPage": None}))


def response_ids(output) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.record.data["responseId"] for m in output.records if m.record.stream == "responses"]


def test_surveys_follow_next_page_exactly_as_given_over_three_pages(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        SURVEYS,
        json=envelope(
            {"elements": [survey("SV_1aaaaaaaaaaaaaa")], "nextPage": f"{SURVEYS}?offset=1&x=opaque"}
        ),
    )
    api.get(
        f"{SURVEYS}?offset=1&x=opaque",
        complete_qs=True,
        json=envelope({"elements": [survey("SV_2aaaaaaaaaaaaaa")], "nextPage": f"{SURVEYS}?offset=2"}),
    )
    api.get(
        f"{SURVEYS}?offset=2",
        complete_qs=True,
        json=envelope({"elements": [survey("SV_3aaaaaaaaaaaaaa")], "nextPage": None}),
    )
    output = run_read(source, config(), "surveys", sync_mode=SyncMode.full_refresh)
    assert [m.record.data["id"] for m in output.records] == [
        "SV_1aaaaaaaaaaaaaa",
        "SV_2aaaaaaaaaaaaaa",
        "SV_3aaaaaaaaaaaaaa",
    ]
    assert output.records[0].record.data["isActive"] is True


def test_incremental_surveys_skip_older_surveys_and_move_the_cursor(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        SURVEYS,
        json=envelope(
            {
                "elements": [
                    survey("SV_1aaaaaaaaaaaaaa", "2024-01-01T00:00:00Z"),
                    survey("SV_2aaaaaaaaaaaaaa", "2024-05-01T00:00:00Z"),
                ],
                "nextPage": None,
            }
        ),
    )
    output = run_read(
        source, config(), "surveys", state={"surveys": {"lastModified": "2024-03-01T00:00:00Z"}}
    )
    assert [m.record.data["id"] for m in output.records] == ["SV_2aaaaaaaaaaaaaa"]
    assert state_values(output)[-1] == {"lastModified": "2024-05-01T00:00:00Z"}


def test_a_full_export_polls_until_complete_and_reads_every_zip_member(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A)
    first = [response(f"R_a{i:014d}") for i in range(3)]
    second = [response(f"R_b{i:014d}") for i in range(2)]
    archive = zip_of({"Survey_1.ndjson": ndjson(first), "Survey_2.ndjson": ndjson(second)})
    export = FakeExportApi(api, SV_A, archive, polls=3, token="tok-1")

    output = run_read(source, config(), "responses")

    assert response_ids(output) == [r["responseId"] for r in first + second]
    assert export.progress.call_count == 4, "three inProgress polls without fileId, then complete"
    assert export.file.call_count == 1
    body = export.bodies[0]
    assert body["format"] == "ndjson" and body["compress"] is True
    assert body["allowContinuation"] is True and body["sortByLastModifiedDate"] is True
    assert "startDate" not in body and "continuationToken" not in body
    record = output.records[0].record.data
    assert record["surveyId"] == SV_A and record["finished"] is True and record["status"] == 0
    assert record["values"]["QID2"] == ["1", "3"] and record["labels"]["QID1"] == "No"
    assert record["lastModifiedDate"] == record["recordedDate"] == "2024-03-25T17:21:25.942Z"


def test_one_state_per_survey_right_after_its_records(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A, SV_B)
    FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}), token="tok-a")
    FakeExportApi(
        api,
        SV_B,
        zip_of({"b.ndjson": ndjson([response("R_b00000000000001", "2024-04-01T00:00:00.5Z")])}),
        token="tok-b",
    )

    output = run_read(source, config(), "responses")

    kinds = [m.type.value for m in output.records_and_state_messages]
    # two surveys: each small export is an eighth of the sync or more, so each gets its checkpoint;
    # the last STATE also keeps what the completeness check of the next sync starts from
    assert kinds == ["RECORD", "STATE", "RECORD", "STATE"]
    assert [t.trace.estimate.row_estimate for t in output.trace_messages if t.trace.estimate] == [20]
    # the two exports run at once: whichever finishes first is emitted (and checkpointed) first
    first, second = (m.record.data["surveyId"] for m in output.records)
    token = {SV_A: "tok-a", SV_B: "tok-b"}
    states = state_values(output)
    assert cursor_of(states[0], first)["continuationToken"] == token[first]
    assert cursor_of(states[0], second) is None
    assert cursor_of(states[1], second)["continuationToken"] == token[second]
    assert cursor_of(states[1], SV_B)["lastModifiedDate"] == "2024-04-01T00:00:00.5Z"
    assert "countsCeiling" not in cursor_of(states[0], SV_A)
    assert cursor_of(states[1], SV_A)["countsCeiling"] == cursor_of(states[1], SV_B)["countsCeiling"]


def test_a_second_sync_sends_the_stored_continuation_token(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A)
    export = FakeExportApi(
        api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000002")])}), token="tok-2"
    )
    state = {"states": [{"partition": {"survey_id": SV_A}, "cursor": {"continuationToken": "tok-1"}}]}

    output = run_read(source, config(), "responses", state={"responses": state})

    assert export.bodies == [
        {"format": "ndjson", "compress": True, "sortByLastModifiedDate": True, "continuationToken": "tok-1"}
    ]
    assert cursor_of(state_values(output)[-1], SV_A)["continuationToken"] == "tok-2"


def test_a_refused_token_falls_back_to_a_date_window_from_the_stored_timestamp(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A)
    export = FakeExportApi(
        api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000003")])}), token="tok-3"
    )
    export.start = api.post(
        f"{BASE_URL}/surveys/{SV_A}/export-responses",
        [
            {
                "status_code": 400,
                "json": error_body("400 - Bad Request", "RCE_10", "Invalid continuation token"),
            },
            {
                "json": envelope(
                    {"progressId": f"ES_{SV_A[3:]}", "percentComplete": 0.0, "status": "inProgress"}
                )
            },
        ],
    )
    cursor = {"continuationToken": "expired", "lastModifiedDate": "2024-03-25T17:21:25.942Z"}
    state = {"states": [{"partition": {"survey_id": SV_A}, "cursor": cursor}]}

    output = run_read(source, config(), "responses", state={"responses": state})

    first, second = export.bodies
    assert first["continuationToken"] == "expired"
    assert "continuationToken" not in second
    assert second["startDate"] == "2024-03-25T17:21:25Z" and second["allowContinuation"] is True
    assert response_ids(output) == ["R_a00000000000003"]
    assert output.is_in_logs("refused the stored continuation token")
    assert cursor_of(state_values(output)[-1], SV_A)["continuationToken"] == "tok-3"


def test_a_failed_export_keeps_that_surveys_cursor_while_others_advance(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A, SV_B)
    broken = FakeExportApi(api, SV_A, b"unused")
    api.get(
        f"{BASE_URL}/surveys/{SV_A}/export-responses/ES_{SV_A[3:]}",
        json=envelope({"percentComplete": 100.0, "status": "failed"}),
    )
    FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson([response("R_b00000000000009")])}), token="tok-b2")
    old = {"continuationToken": "tok-a1", "tokenIssuedAt": "2099-01-01T00:00:00Z"}
    state = {
        "states": [
            {"partition": {"survey_id": SV_A}, "cursor": old},
            {"partition": {"survey_id": SV_B}, "cursor": {"continuationToken": "tok-b1"}},
        ]
    }

    output = run_read(source, config(), "responses", state={"responses": state}, expect_failure=True)

    assert response_ids(output) == ["R_b00000000000009"]
    final = state_values(output)[-1]
    assert cursor_of(final, SV_A) == old
    assert cursor_of(final, SV_B)["continuationToken"] == "tok-b2"
    # the token export twice, its date window twice, then chunks of half the survey's 10 responses
    # halving to one (5, 2, 1), which is tried `job_attempts` times: bounded by the halvings
    assert broken.start.call_count == 2 + 2 + 2 + ExportTiming().job_attempts
    errors = " ".join(m.trace.error.message for m in output.errors)
    assert SV_A in errors and SV_B not in errors


def test_survey_ids_limit_the_exports_and_skip_the_survey_list(source, api) -> None:  # type: ignore[no-untyped-def]
    listing = api.get(SURVEYS, json=envelope({"elements": [survey(SV_A), survey(SV_B)], "nextPage": None}))
    FakeExportApi(api, SV_C, zip_of({"c.ndjson": ndjson([response("R_c00000000000001")])}))
    other = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}))

    output = run_read(source, config(survey_ids=[SV_C]), "responses")

    assert response_ids(output) == ["R_c00000000000001"]
    assert listing.call_count == 0 and other.start.call_count == 0


def test_start_date_opens_the_first_window(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A)
    export = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([])}))
    run_read(source, config(start_date="2024-01-01T00:00:00Z"), "responses")
    assert export.bodies[0]["startDate"] == "2024-01-01T00:00:00Z"


def test_exports_are_started_ahead_up_to_the_concurrency_limit(source, api) -> None:  # type: ignore[no-untyped-def]
    ids = [f"SV_{str(i) * 15}" for i in range(1, 6)]
    list_surveys(api, *ids)
    for survey_id in ids:
        FakeExportApi(api, survey_id, zip_of({"x.ndjson": ndjson([])}))
    # one request at a time, so the order of requests is exact (the slot accounting is the same either way)
    run_read(source, config(max_concurrent_exports=3, max_concurrent_requests=1), "responses")
    calls = [(r.method, r.path.split("/")[4]) for r in api.request_history if "export-responses" in r.path]
    starts_before_first_poll = 0
    for method, _survey in calls:
        if method == "GET":
            break
        starts_before_first_poll += 1
    assert starts_before_first_poll == 3


def test_a_truncated_download_is_fetched_again(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A)
    archive = zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])})
    export = FakeExportApi(api, SV_A, archive)
    file_url = export.file.last_request.url if export.file.called else None
    assert file_url is None
    api.get(
        export.file._url,  # type: ignore[attr-defined]
        [
            {"exc": requests.exceptions.ChunkedEncodingError("connection broken")},
            {"content": archive[:-10], "headers": {"Content-Length": str(len(archive))}},
            {"content": archive},
        ],
    )
    output = run_read(source, config(), "responses")
    assert response_ids(output) == ["R_a00000000000001"]


def test_a_listed_survey_that_cannot_be_exported_is_a_warning_not_a_failure(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A, SV_B)
    forbidden = error_body("403 - Forbidden", "AUTH_1", "Not allowed")
    api.get(f"{BASE_URL}/surveys/{SV_A}", status_code=403, json=forbidden)
    api.post(
        f"{BASE_URL}/surveys/{SV_A}/export-responses",
        status_code=403,
        json=error_body("403 - Forbidden", "AUTH_1", "Not allowed"),
    )
    FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson([response("R_b00000000000001")])}))
    output = run_read(source, config(), "responses")
    assert response_ids(output) == ["R_b00000000000001"]
    assert not output.errors
    assert output.is_in_logs(f"survey {SV_A} skipped")


def test_survey_ids_also_limit_the_surveys_stream(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A, SV_B)
    output = run_read(source, config(survey_ids=[SV_B]), "surveys", sync_mode=SyncMode.full_refresh)
    assert [m.record.data["id"] for m in output.records] == [SV_B]


def test_an_export_that_finishes_early_frees_its_slot_for_the_next_survey(source, api) -> None:  # type: ignore[no-untyped-def]
    list_surveys(api, SV_A, SV_B, SV_C)
    FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}), polls=4)
    FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson([response("R_b00000000000001")])}), polls=0)
    FakeExportApi(api, SV_C, zip_of({"c.ndjson": ndjson([response("R_c00000000000001")])}), polls=0)

    output = run_read(source, config(max_concurrent_exports=2, max_concurrent_requests=1), "responses")

    # completion order: B and C are emitted while A is still running
    assert response_ids(output) == ["R_b00000000000001", "R_c00000000000001", "R_a00000000000001"]
    calls = [
        (r.method, r.path.split("/")[4], r.path.count("/")) for r in api.request_history if "export" in r.path
    ]
    start_c = calls.index(("POST", SV_C.lower(), 5))
    last_poll_a = max(i for i, call in enumerate(calls) if call[:2] == ("GET", SV_A.lower()) and call[2] == 6)
    assert start_c < last_poll_a, "C started while A was still running, as soon as B had finished"


def test_unchanged_surveys_come_due_for_their_recheck_spread_over_half_the_period() -> None:
    dues = [recheck_seconds(f"SV_{n:015d}", 24) / 3600 for n in range(1000)]
    assert all(12 <= due <= 24 for due in dues)
    assert recheck_seconds("SV_000000000000001", 24) == recheck_seconds("SV_000000000000001", 24)
    early = sum(due < 18 for due in dues)
    assert 400 <= early <= 600, "about half come due in the first half of the spread"


def test_in_progress_responses_are_exported_only_where_an_open_session_can_remain(source, api) -> None:  # type: ignore[no-untyped-def]
    recently = pendulum.now("UTC").subtract(days=10).format("YYYY-MM-DDTHH:mm:ss[Z]")
    closed_recently = {**survey(SV_B, last_modified=recently), "isActive": False}
    closed_long_ago = {**survey(SV_C, last_modified="2020-03-01T00:00:00Z"), "isActive": False}
    listing = [survey(SV_A), closed_recently, closed_long_ago]
    api.get(SURVEYS, json=envelope({"elements": listing, "nextPage": None}))
    exports = {
        sid: FakeExportApi(api, sid, zip_of({"p.ndjson": ndjson([response(f"R_{sid[3]}00000000000001")])}))
        for sid in (SV_A, SV_B, SV_C)
    }

    run_read(source, config(), "in_progress_responses", sync_mode=SyncMode.full_refresh)
    assert {sid: export.start.call_count for sid, export in exports.items()} == {SV_A: 1, SV_B: 1, SV_C: 0}

    run_read(
        source, config(in_progress_lookback_days=0), "in_progress_responses", sync_mode=SyncMode.full_refresh
    )
    assert {sid: export.start.call_count for sid, export in exports.items()} == {SV_A: 2, SV_B: 2, SV_C: 1}


def test_a_later_planned_export_that_finishes_first_is_checkpointed_without_the_earlier_one(
    source, api
) -> None:  # type: ignore[no-untyped-def]
    """A's export, planned first, stays in progress until B's file is downloaded: B's records and a
    STATE holding B alone come first; A's cursor appears only after A's records."""
    list_surveys(api, SV_A, SV_B)
    a_file, b_file = (
        zip_of({f"{name}.ndjson": ndjson([response(f"R_{name}00000000000001")])}) for name in "ab"
    )
    a = FakeExportApi(api, SV_A, a_file, token="tok-a")
    b = FakeExportApi(api, SV_B, b_file, token="tok-b")
    b_downloaded = threading.Event()

    def a_progress(request: Any, context: Any) -> dict[str, Any]:
        if not b_downloaded.wait(0.01):
            return envelope({"percentComplete": 50.0, "status": "inProgress"})
        return envelope(a.complete)

    def b_download(request: Any, context: Any) -> bytes:
        b_downloaded.set()
        return b_file

    api.get(a.progress_url, json=a_progress)
    api.get(b.file_url, content=b_download)

    output = run_read(source, config(), "responses")

    kinds = [m.type.value for m in output.records_and_state_messages]
    assert kinds == ["RECORD", "STATE", "RECORD", "STATE"]
    assert [m.record.data["surveyId"] for m in output.records] == [SV_B, SV_A]
    first, last = state_values(output)
    assert cursor_of(first, SV_B)["continuationToken"] == "tok-b"
    assert cursor_of(first, SV_A) is None, "A's records were not emitted yet"
    assert cursor_of(last, SV_A)["continuationToken"] == "tok-a"
