"""Many surveys: responses concentrated in one week, changing many surveys in one admin call, and
export builds that queue instead of becoming a thread each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig
from qualtrics_simulator.admin_client import AdminClient, AdminError
from qualtrics_simulator.cli import config_from_args, parse_args
from qualtrics_simulator.data import WEEK_MS, busy_week_start
from qualtrics_simulator.exports import BUILD_WORKERS

from testkit import capped_survey

from .conftest import HEADERS, run_export

SORTED = {"format": "ndjson", "sortByLastModifiedDate": True}


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def busiest_week(moments: list[int]) -> int:
    """The most responses in any 7-day interval (sliding, not calendar weeks)."""
    moments = sorted(moments)
    best, lo = 0, 0
    for hi, moment in enumerate(moments):
        while moment - moments[lo] >= WEEK_MS:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.fixture
def skewed() -> Iterator[tuple[Simulator, ServerHandle]]:
    sim = Simulator(SimulatorConfig(seed=11, surveys=2, responses_per_survey=1000, skew_week_fraction=0.9))
    with sim.serve() as server:
        yield sim, server


def test_skewed_survey_records_the_fraction_in_one_week_and_the_rest_across_the_year(
    skewed: tuple[Simulator, ServerHandle],
) -> None:
    sim, server = skewed
    for info in sim.store.surveys():
        records = run_export(server.base_url, info.id, SORTED).records
        assert len(records) == 1000
        modified = [epoch_ms(r["values"]["lastModifiedDate"]) for r in records]
        recorded = [epoch_ms(r["values"]["recordedDate"]) for r in records]
        assert modified == recorded == sorted(recorded)  # never edited: last modified = recorded
        week = busy_week_start(11, info.index)
        assert sum(week <= m < week + WEEK_MS for m in recorded) == 900
        assert busiest_week(recorded) < 900 + 10  # the quiet 100 are spread, not piled at the edges
        quiet = [m for m in recorded if not week <= m < week + WEEK_MS]
        assert max(quiet) - min(quiet) > 300 * 86_400_000  # across most of the year


def test_a_date_window_inside_the_busy_week_selects_its_responses(
    skewed: tuple[Simulator, ServerHandle],
) -> None:
    sim, server = skewed
    info = sim.store.surveys()[0]
    week = busy_week_start(11, info.index)
    first_day = {
        **SORTED,
        "startDate": datetime.utcfromtimestamp(week / 1000).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDate": datetime.utcfromtimestamp((week + 86_400_000) / 1000).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    records = run_export(server.base_url, info.id, first_day).records
    assert 900 // 7 - 2 <= len(records) <= 900 // 7 + 2


def test_without_skew_no_week_holds_more_than_a_few_percent() -> None:
    sim = Simulator(SimulatorConfig(seed=11, surveys=1, responses_per_survey=1000))
    with sim.serve() as server:
        records = run_export(server.base_url, sim.survey_ids()[0], SORTED).records
    assert busiest_week([epoch_ms(r["values"]["recordedDate"]) for r in records]) <= 25


def test_cli_skew_flag_sets_the_fraction_and_refuses_values_outside_0_to_1() -> None:
    config = config_from_args(parse_args(["--surveys", "1", "--skew-week-fraction", "0.9"]))
    assert config.skew_week_fraction == 0.9
    assert config_from_args(parse_args([])).skew_week_fraction == 0.0
    for bad in ("1.5", "-0.1", "lots"):
        with pytest.raises(SystemExit):
            parse_args(["--skew-week-fraction", bad])


# --- POST /__admin/surveys/touch ----------------------------------------------------------------------


@pytest.fixture
def brand() -> Iterator[tuple[Simulator, ServerHandle, AdminClient]]:
    sim = Simulator(SimulatorConfig(seed=3, surveys=300, responses_per_survey=2, export_seconds=0.0))
    with sim.serve() as server:
        yield sim, server, AdminClient(server.admin_url)


def continuation(server: ServerHandle, survey_id: str) -> str:
    export = run_export(server.base_url, survey_id, {**SORTED, "allowContinuation": True}, download=False)
    return str(export.final["continuationToken"])


def test_touch_a_fraction_changes_that_many_surveys_and_nothing_else(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    sim, _, admin = brand
    before = {sid: len(sim.response_ids(sid)) for sid in sim.survey_ids()}
    changed = admin.touch_surveys(fraction=0.01, add=2)
    assert len(changed) == 3
    assert all(len(c["added"]) == 2 and c["edited"] == [] for c in changed.values())
    for sid, count in before.items():
        truth = list(sim.response_ids(sid))
        if sid in changed:
            assert len(truth) == count + 2 and truth[-2:] == changed[sid]["added"]
        else:
            assert len(truth) == count
    assert admin.all_response_ids() == {sid: list(sim.response_ids(sid)) for sid in sim.survey_ids()}
    again = admin.touch_surveys(fraction=0.01)
    assert len(again) == 3 and set(again) != set(changed)  # another pick each call


def test_touch_named_surveys_adds_and_edits_what_a_continuation_export_then_returns(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    sim, server, admin = brand
    first, second, untouched = sim.survey_ids()[:3]
    tokens = {sid: continuation(server, sid) for sid in (first, second, untouched)}
    changed = admin.touch_surveys(survey_ids=[first, second], add=1, edit=1)
    assert sorted(changed) == sorted([first, second])
    for sid in (first, second, untouched):
        body = {**SORTED, "continuationToken": tokens[sid]}
        exported = {r["responseId"] for r in run_export(server.base_url, sid, body).records}
        expected = set(changed[sid]["added"]) | set(changed[sid]["edited"]) if sid in changed else set()
        assert exported == expected
    counts = requests.get(f"{server.base_url}/surveys/{first}", headers=HEADERS).json()["result"]
    assert counts["responseCounts"]["auditable"] == 3


def test_touch_refuses_ambiguous_or_unknown_targets(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    _, _, admin = brand
    for kwargs in ({}, {"fraction": 0.1, "survey_ids": ["SV_x"]}, {"fraction": 2.0}):
        with pytest.raises(AdminError) as error:
            admin.touch_surveys(**kwargs)  # type: ignore[arg-type]
        assert error.value.status == 400
    with pytest.raises(AdminError) as error:
        admin.touch_surveys(survey_ids=["SV_doesNotExist123"])
    assert error.value.status == 404
    assert admin.touch_surveys(fraction=0.0) == {}


# --- listing and exports at many surveys ----------------------------------------------------------------


def test_survey_list_pages_hold_every_survey_once_in_order(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    sim, server, admin = brand
    new = admin.add_survey(name="Late addition")
    admin.delete_survey(sim.survey_ids()[5])
    seen: list[str] = []
    url: str | None = server.base_url + "/surveys"
    while url:
        result = requests.get(url, headers=HEADERS).json()["result"]
        seen += [element["id"] for element in result["elements"]]
        url = result["nextPage"]
    assert seen == sim.survey_ids() and seen[-1] == new and len(seen) == 300


def test_exports_started_in_a_burst_all_complete_built_by_a_bounded_set_of_threads(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    sim, server, _ = brand
    surveys = sim.survey_ids()[:40]
    started = {
        sid: requests.post(f"{server.base_url}/surveys/{sid}/export-responses", json=SORTED, headers=HEADERS)
        for sid in surveys
    }
    assert all(reply.status_code == 200 for reply in started.values())
    assert 1 <= sim.exports.build_threads() <= BUILD_WORKERS
    for sid in surveys:
        records = run_export(server.base_url, sid, SORTED).records
        assert [r["responseId"] for r in records] == list(sim.response_ids(sid))


# --- the capped survey of issue 19, through the real CLI -------------------------------------------------


def test_capped_skewed_survey_from_the_cli_exports_whole_only_in_limit_chunks(tmp_path: Path) -> None:
    with capped_survey(tmp_path, skew_week_fraction=0.9, export_seconds=0.0) as sim:
        ((survey, truth),) = sim.response_ids().items()
        assert len(truth) == 5000
        assert run_export(sim.base_url, survey, SORTED, download=False).final["status"] == "failed"
        seen: dict[str, int] = {}
        start: str | None = None
        chunks = 0
        while True:  # keyset chunks: `limit` records from the last lastModifiedDate seen (inclusive)
            body = {**SORTED, "limit": 400, **({"startDate": start} if start else {})}
            records = run_export(sim.base_url, survey, body).records
            chunks += 1
            for record in records:
                seen[record["responseId"]] = epoch_ms(record["values"]["lastModifiedDate"])
            if len(records) < 400:
                break
            start = records[-1]["values"]["lastModifiedDate"]
    assert sorted(seen) == sorted(truth) and chunks >= 13
    assert busiest_week(list(seen.values())) >= 4500


def test_distribution_history_finds_the_sender_among_many_surveys_added_and_deleted(
    brand: tuple[Simulator, ServerHandle, AdminClient],
) -> None:
    sim, server, admin = brand

    def history_status(survey_id: str) -> int:
        info = sim.store.survey(survey_id)
        invite = sim.directory.distributions(info)[0]["id"]
        return requests.get(f"{server.base_url}/distributions/{invite}/history", headers=HEADERS).status_code

    last = sim.survey_ids()[-1]
    assert history_status(last) == 200
    late = admin.add_survey(name="Added after the first history call")
    assert history_status(late) == 200
    gone = sim.survey_ids()[10]
    invite = sim.directory.distributions(sim.store.survey(gone))[0]["id"]
    admin.delete_survey(gone)
    url = f"{server.base_url}/distributions/{invite}/history"
    assert requests.get(url, headers=HEADERS).status_code == 404
