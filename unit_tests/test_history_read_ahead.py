"""distribution_history read ahead from the start of the sync (`DistributionHistory.start_read_ahead`).

Its histories are paced at 270 a minute, the slowest budget of a sync, so they are read behind the
other streams from the start, planned from the state the stream will be read with; the stream then
reads them back in order and moves its cursors as a plain read would.
"""

from __future__ import annotations

from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.source import SourceQualtrics
from unit_tests.builders import BASE_URL, config, error_body, survey
from unit_tests.helpers import run_read, state_values
from unit_tests.test_directory_streams import FORBIDDEN, SV_A, SV_B, data, distribution, page, warnings

SV_C = "SV_ccccccccccccccc"
LISTS = f"{BASE_URL}/distributions"


def history_url(distribution_id: str) -> str:
    return f"{BASE_URL}/distributions/{distribution_id}/history"


def brand(api) -> None:  # type: ignore[no-untyped-def]
    """Three surveys: A with two distributions (one a test email), B refused, C with one of two pages."""
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A), survey(SV_B), survey(SV_C)]))
    api.get(
        f"{LISTS}?surveyId={SV_A}",
        json=page(
            [
                distribution("EMD_1", "2024-03-01T10:00:00Z"),
                distribution("EMD_T", "2024-03-02T10:00:00Z", "TestEmail"),
                distribution("EMD_2", "2024-03-03T10:00:00Z"),
            ]
        ),
    )
    api.get(f"{LISTS}?surveyId={SV_B}", status_code=403, json=FORBIDDEN)
    api.get(f"{LISTS}?surveyId={SV_C}", json=page([distribution("EMD_3", "2024-03-04T10:00:00Z")]))
    api.get(history_url("EMD_1"), json=page([{"contactId": "CID_1"}, {"contactId": "CID_2"}]))
    api.get(history_url("EMD_2"), json=page([{"contactId": "CID_3"}]))
    third = history_url("EMD_3")
    api.get(third, json=page([{"contactId": "CID_4"}], f"{third}?skipToken=CID_4"))
    api.get(f"{third}?skipToken=CID_4", complete_qs=True, json=page([{"contactId": "CID_5"}]))


def requests_by_path(api) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    for request in api.request_history:
        key = request.path + ("?" + request.query if "surveyid" in request.query else "")
        counts[key] = counts.get(key, 0) + 1
    return counts


def plain_read(state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The stream read without read-ahead (no catalog selects it, so nothing is read ahead)."""
    source = SourceQualtrics(sleep=lambda _seconds: None)
    stream = next(s for s in source.streams(config()) if s.name == "distribution_history")
    mode = SyncMode.incremental if state is not None else SyncMode.full_refresh
    records: list[dict[str, Any]] = []
    for stream_slice in stream.stream_slices(sync_mode=mode):
        records += [dict(r) for r in stream.read_records(mode, stream_slice=stream_slice)]  # type: ignore[arg-type]
    return [{k: v for k, v in record.items() if v is not None} for record in records]


def test_histories_read_ahead_are_those_of_a_plain_read_in_order_with_the_same_requests(source, api) -> None:  # type: ignore[no-untyped-def]
    brand(api)
    output = run_read(source, config(), "distribution_history", sync_mode=SyncMode.full_refresh)
    assert not output.errors
    spooled = data(output, "distribution_history")
    assert [(r["surveyId"], r["distributionId"], r["contactId"]) for r in spooled] == [
        (SV_A, "EMD_1", "CID_1"),
        (SV_A, "EMD_1", "CID_2"),
        (SV_A, "EMD_2", "CID_3"),
        (SV_C, "EMD_3", "CID_4"),
        (SV_C, "EMD_3", "CID_5"),
    ]
    read_ahead = requests_by_path(api)
    assert read_ahead["/api/v3/distributions/emd_3/history"] == 2
    assert "/api/v3/distributions/emd_t/history" not in read_ahead, "a test email has no history"
    refused = [w for w in warnings(output) if "read:distributions" in w]
    assert len(refused) == 1 and "GET /distributions" in refused[0], "survey B's refusal, said once"

    api.reset_mock()
    assert plain_read() == spooled
    assert requests_by_path(api) == read_ahead, "the read-ahead made exactly the requests of a plain read"


def test_an_incremental_read_ahead_lists_from_the_saved_cursors_and_moves_them_as_it_emits(
    source, api
) -> None:  # type: ignore[no-untyped-def]
    brand(api)
    saved = {
        "distribution_history": {
            "states": [{"partition": {"survey_id": SV_A}, "cursor": {"readAt": "2024-05-20T00:00:00.000Z"}}]
        }
    }
    output = run_read(source, config(), "distribution_history", state=saved)
    assert not output.errors
    lists = {r.qs["surveyid"][0]: r.qs for r in api.request_history if r.path == "/api/v3/distributions"}
    # 70 days (the default look-back) before survey A's last read; the others from the beginning
    assert lists[SV_A.lower()].get("sendstartdate") == ["2024-03-11t00:00:00z"]
    assert "sendstartdate" not in lists[SV_C.lower()]
    final = state_values(output)[-1]
    cursors = {entry["partition"]["survey_id"]: entry["cursor"]["readAt"] for entry in final["states"]}
    assert set(cursors) == {SV_A, SV_C}, "survey B's distributions were refused: its cursor stays unset"
    assert cursors[SV_A] != "2024-05-20T00:00:00.000Z", "survey A's histories were all read: it moves"
    assert len(data(output, "distribution_history")) == 5


def test_nothing_is_read_ahead_for_a_sync_that_does_not_select_the_stream(source, api) -> None:  # type: ignore[no-untyped-def]
    brand(api)
    output = run_read(source, config(), "surveys", sync_mode=SyncMode.full_refresh)
    assert len(data(output, "surveys")) == 3
    assert not any("/history" in r.path or r.path == "/api/v3/distributions" for r in api.request_history)


def test_a_read_ahead_whose_histories_time_out_steps_down_once_rather_than_failing_each(source, api) -> None:  # type: ignore[no-untyped-def]
    ids = [f"EMD_{n:02}" for n in range(30)]
    api.get(f"{BASE_URL}/surveys", json=page([survey(SV_A)]))
    api.get(LISTS, json=page([distribution(i, "2024-03-01T10:00:00Z") for i in ids]))
    timeout = error_body("504 - Gateway Timeout", "GW_504", "The request timed out.")
    for distribution_id in ids:
        api.get(history_url(distribution_id), status_code=504, json=timeout)  # at Qualtrics' default size
        api.get(
            f"{history_url(distribution_id)}?pageSize=50",
            complete_qs=True,
            json=page([{"contactId": f"CID_{distribution_id}"}]),
        )
    output = run_read(source, config(), "distribution_history", sync_mode=SyncMode.full_refresh)
    assert not output.errors
    assert [r["distributionId"] for r in data(output, "distribution_history")] == ids
    at_default = {r.path for r in api.request_history if r.path.endswith("/history") and not r.query}
    # only the histories already being read when the first timeout came back: the item emitted and
    # those read ahead of it (`max_concurrent_requests`, 10), not all 30
    assert 1 <= len(at_default) <= 11
    assert len([w for w in warnings(output) if "recipients per page" in w]) == 1
