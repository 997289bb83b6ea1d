"""Big surveys and big brands, end to end: the installed CLI against the simulator over real HTTP.

Each test checks exact ground truth from the simulator: which responses exist, which exports it was
asked for (an `ExportSpy` on the in-process simulator records every start and when each export was
first seen complete) and how many requests it answered.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pendulum
import pytest
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from integration_tests.test_end_to_end import keys
from testkit import Connector, configure, simulator_config
from testkit.interrupted import LiveRun, run_live

# -- ground truth ---------------------------------------------------------------------------------------


def truth(server: ServerHandle, survey_ids: list[str] | None = None) -> set[tuple[str, str]]:
    sim = server.sim
    return {(sid, rid) for sid in survey_ids or sim.survey_ids() for rid in sim.response_ids(sid)}


@dataclass
class StartedExport:
    survey_id: str
    body: dict[str, Any]
    at: float  # wall clock, comparable with the arrival times of the connector's lines
    progress_id: str = ""
    seen_complete: float | None = None


@dataclass
class ExportSpy:
    """Every export the simulator was asked to start, in order, and when it first answered 'complete'."""

    started: list[StartedExport] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def on(cls, sim: Simulator) -> ExportSpy:
        spy = cls()
        manager = sim.exports
        start, progress = manager.start, manager.progress

        def recording_start(survey_id: str, body: Any) -> dict[str, Any]:
            began = time.time()
            result = start(survey_id, body)
            with spy.lock:
                spy.started.append(StartedExport(survey_id, dict(body), began, result["progressId"]))
            return result

        def recording_progress(survey_id: str, progress_id: str) -> dict[str, Any]:
            result = progress(survey_id, progress_id)
            with spy.lock:
                for export in spy.started:
                    first = export.progress_id == progress_id and export.seen_complete is None
                    if first and result.get("status") == "complete":
                        export.seen_complete = time.time()
            return result

        manager.start = recording_start  # type: ignore[method-assign]
        manager.progress = recording_progress  # type: ignore[method-assign]
        return spy

    def of(self, survey_id: str) -> list[StartedExport]:
        return [export for export in self.started if export.survey_id == survey_id]


# -- reading runs ---------------------------------------------------------------------------------------


def logs(messages: list[dict[str, Any]], level: str | None = None) -> list[str]:
    return [
        m["log"]["message"]
        for m in messages
        if m.get("type") == "LOG" and (level is None or m["log"]["level"] == level)
    ]


def stream_errors(messages: list[dict[str, Any]], stream: str = "responses") -> list[dict[str, Any]]:
    """The error traces a stream raised (not the CDK's closing summary, which has no stream)."""
    return [
        m["trace"]["error"]
        for m in messages
        if m.get("type") == "TRACE"
        and m["trace"]["type"] == "ERROR"
        and (m["trace"]["error"].get("stream_descriptor") or {}).get("name") == stream
    ]


def partitions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["partition"]["survey_id"]: entry["cursor"] for entry in state.get("states", [])}


def responses_states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m["state"]["stream"]["stream_state"]
        for m in messages
        if m.get("type") == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == "responses"
    ]


def backfill_lengths(messages: list[dict[str, Any]], survey_id: str) -> list[int]:
    """Windows still to come after each checkpoint of one survey."""
    lengths = []
    for state in responses_states(messages):
        cursor = partitions(state).get(survey_id)
        if cursor is not None:
            lengths.append(len(cursor.get("backfill", [])))
    return lengths


def killed_after(checkpoints: int, survey_id: str) -> Callable[[dict[str, Any], list[dict[str, Any]]], bool]:
    """SIGKILL right after the `checkpoints`-th STATE that carries this survey's cursor."""
    seen = [0]

    def condition(message: dict[str, Any], _: list[dict[str, Any]]) -> bool:
        if message.get("type") == "STATE":
            state = message["state"]["stream"]["stream_state"]
            if survey_id in partitions(state):
                seen[0] += 1
        return seen[0] >= checkpoints

    return condition


def within(window: dict[str, Any], stamp: str) -> bool:
    moment = pendulum.parse(stamp)
    start = window["start"] and pendulum.parse(window["start"])
    end = window["end"] and pendulum.parse(window["end"])
    return (not start or moment >= start) and (not end or moment < end)


# -- 1. isolation -------------------------------------------------------------------------------------------


def test_a_403_and_a_404_survey_are_one_warning_each_and_the_others_sync(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=5, responses_per_survey=200)
    ids = server.sim.survey_ids()
    forbidden, missing = ids[1], ids[3]
    server.sim.set_faults(export_forbidden_surveys=[forbidden], export_missing_surveys=[missing])
    good = [sid for sid in ids if sid not in (forbidden, missing)]
    config = simulator_config(server.base_url)
    catalog = configure(discovered, "responses")

    listed = connector.run("read", config, catalog=catalog)
    assert listed.returncode == 0, listed.tail()
    assert not stream_errors(listed.messages) and not [
        m for m in listed.of_type("TRACE") if m["trace"]["type"] == "ERROR"
    ]
    received = keys(listed.records("responses"))
    assert len(received) == len(set(received)) and set(received) == truth(server, good)
    assert set(partitions(listed.states("responses")[-1])) == set(good)
    for bad in (forbidden, missing):
        naming = [line for line in logs(listed.messages, "WARN") if bad in line]
        assert len(naming) == 1, naming
        assert not any(other in naming[0] for other in good)
    assert "permission" in next(line for line in logs(listed.messages, "WARN") if forbidden in line)

    named = connector.run("read", {**config, "survey_ids": ids}, catalog=catalog)
    assert named.returncode != 0
    (error,) = stream_errors(named.messages)
    assert forbidden in error["message"] and missing in error["message"]
    assert not any(sid in error["message"] for sid in good), "the error names only the failed surveys"
    assert error["failure_type"] == "config_error"
    assert set(keys(named.records("responses"))) == truth(server, good), "the others still synced"
    assert set(partitions(named.states("responses")[-1])) == set(good)


# -- 2 and 7. a slow export between fast ones, and progress while it runs -------------------------------

SLOW_SECONDS = 36.0


@dataclass
class SlowSync:
    run: LiveRun
    spy: ExportSpy
    slow: str
    fast: list[str]
    auditable: int
    truth: set[tuple[str, str]]
    began: float


@pytest.fixture(scope="module")
def slow_sync(tmp_path_factory: pytest.TempPathFactory, discovered: dict[str, Any]) -> Iterator[SlowSync]:
    """One read of 6 surveys, the third of which takes 36 s to export while the others take 0.3 s."""
    sim = Simulator(SimulatorConfig(seed=21, surveys=6, responses_per_survey=300, export_seconds=0.3))
    slow = sim.survey_ids()[2]
    sim.set_faults(export_seconds_by_survey={slow: SLOW_SECONDS})
    spy = ExportSpy.on(sim)
    with sim.serve() as server:
        connector = Connector(tmp_path_factory.mktemp("slow"))
        args = connector.args(
            "read", simulator_config(server.base_url), catalog=configure(discovered, "responses")
        )
        began = time.time()
        run = run_live(args, timeout=180)
        auditable = sum(sim.store.counts(sid)["auditable"] for sid in sim.survey_ids())
        fast = [sid for sid in sim.survey_ids() if sid != slow]
        yield SlowSync(run, spy, slow, fast, auditable, truth(server), began)


def test_fast_surveys_are_emitted_before_a_slow_export_completes(slow_sync: SlowSync) -> None:
    run, spy = slow_sync.run, slow_sync.spy
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(keys(run.records("responses"))) == slow_sync.truth
    (slow_export,) = spy.of(slow_sync.slow)
    ready = slow_export.at + SLOW_SECONDS
    records = [(at, m["record"]["data"]) for at, m in run.timed() if m.get("type") == "RECORD"]
    fast_arrivals = [at for at, record in records if record["surveyId"] != slow_sync.slow]
    slow_arrivals = [at for at, record in records if record["surveyId"] == slow_sync.slow]
    assert max(fast_arrivals) < ready, "every fast survey's records arrived before the slow export was ready"
    assert max(fast_arrivals) <= min(slow_arrivals)
    assert max(fast_arrivals) - slow_sync.began < SLOW_SECONDS / 2


def test_a_finished_export_is_noticed_within_five_seconds_of_being_ready(slow_sync: SlowSync) -> None:
    (slow_export,) = slow_sync.spy.of(slow_sync.slow)
    assert slow_export.seen_complete is not None
    noticed = slow_export.seen_complete - (slow_export.at + SLOW_SECONDS)
    assert 0 <= noticed <= 5.5, f"noticed {noticed:.1f} s after it was ready"


def test_progress_an_estimate_before_any_record_and_a_line_at_least_every_30_seconds(
    slow_sync: SlowSync,
) -> None:
    run = slow_sync.run
    types = [m.get("type") for m in run.messages]
    first_record = types.index("RECORD")
    estimates = [
        (index, m["trace"]["estimate"])
        for index, m in enumerate(run.messages)
        if m.get("type") == "TRACE" and m["trace"]["type"] == "ESTIMATE"
    ]
    assert estimates and estimates[0][0] < first_record
    assert estimates[0][1]["row_estimate"] == slow_sync.auditable == len(slow_sync.truth)

    started = [line for line in logs(run.messages, "INFO") if " started for " in line]
    assert len(started) == len(slow_sync.spy.started) == 6, "a log line at each export start"
    waiting = [line for line in logs(run.messages, "INFO") if "waiting for 1 export(s)" in line]
    assert waiting and all(slow_sync.slow in line for line in waiting)
    arrivals = [slow_sync.began, *run.arrivals]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) <= 31.0, f"silent for {max(gaps):.1f} s"


# -- 3. a survey too big for one export ---------------------------------------------------------------


def test_a_survey_too_big_for_one_export_arrives_whole_in_chunks(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=3000, export_record_cap=2000)
    (survey,) = server.sim.survey_ids()
    spy = ExportSpy.on(server.sim)
    run = connector.run("read", simulator_config(server.base_url), catalog=configure(discovered, "responses"))
    assert run.returncode == 0, run.tail()
    received = keys(run.records("responses"))
    assert len(received) == len(set(received)) == 3000, "every response exactly once"
    assert set(received) == truth(server)
    bodies = [export.body for export in spy.of(survey)]
    assert bodies[0] == bodies[1] and "limit" not in bodies[0], "the whole range, tried twice"
    assert [body["limit"] for body in bodies[2:]] == [1500, 1500, 1500], "then half the survey at a time"
    assert any("exporting it as the next 1500 responses" in line for line in logs(run.messages, "WARN"))
    # Each chunk replaces the window in the backfill: a checkpoint after each chunk says where it is.
    lengths = backfill_lengths(run.messages, survey)
    assert lengths == [1, 1, 0], "one STATE right after each chunk"


def test_a_window_no_split_can_shrink_enough_fails_as_a_system_error_naming_the_size_limit(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=20, export_record_cap=25)
    sim = server.sim
    (fine,) = sim.survey_ids()
    dense = sim.add_survey(name="Recorded in one instant")
    sim.add_responses(dense, 30)  # all in the same millisecond: no window can hold fewer than 30
    run = connector.run("read", simulator_config(server.base_url), catalog=configure(discovered, "responses"))
    assert run.returncode != 0
    (error,) = stream_errors(run.messages)
    assert error["failure_type"] == "system_error"
    assert dense in error["message"] and fine not in error["message"]
    assert "size limit" in error["message"] and "the next 30 responses of [" in error["message"]
    received = keys(run.records("responses"))
    assert len(received) == len(set(received)), "the chunk that fit was emitted once"
    dense_received = {key for key in received if key[0] == dense}
    assert set(received) - dense_received == truth(server, [fine])
    # The chunk that fit is kept: the survey's cursor says where the next sync starts, past it.
    (window,) = partitions(run.states("responses")[-1])[dense]["backfill"]
    assert {(dense, rid) for rid in window["seen"]} == dense_received and len(dense_received) == 15


# -- 4. resumable inside a survey ---------------------------------------------------------------------------


def test_a_first_sync_in_windows_killed_after_two_resumes_with_at_most_one_window_repeated(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=5000)
    (survey,) = server.sim.survey_ids()
    config = simulator_config(server.base_url, responses_per_export=1000)
    catalog = configure(discovered, "responses")
    first = run_live(connector.args("read", config, catalog=catalog), killed_after(2, survey))
    assert first.killed
    lengths = backfill_lengths(first.messages, survey)
    assert len(lengths) >= 2 and lengths[0] >= 4, "at least 5 windows planned"
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == len(lengths)

    planned = partitions(responses_states(first.messages)[0] or {"states": []})
    resumed = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert resumed.returncode == 0, resumed.tail()
    before, after = keys(first.records("responses")), keys(resumed.records("responses"))
    assert set(before) | set(after) == truth(server)
    assert len(after) == len(set(after))
    repeated = set(before) & set(after)
    windows = partitions(first.latest_states()[0]["stream"]["stream_state"])[survey]["backfill"]
    all_records = first.records("responses") + resumed.records("responses")
    per_window = [
        len({r["responseId"] for r in all_records if within(window, r["lastModifiedDate"])})
        for window in windows
    ]
    assert len(repeated) <= max(per_window), (len(repeated), per_window, planned)
    assert backfill_lengths(resumed.messages, survey)[-1] == 0


# -- 5. newest first --------------------------------------------------------------------------------------


def test_newest_first_exports_the_open_window_first_and_edits_during_the_backfill_still_arrive(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=1, responses_per_survey=3000)
    sim = server.sim
    (survey,) = sim.survey_ids()
    recent = set(sim.add_responses(survey, 200))  # the history is 2025's; these are today's
    spy = ExportSpy.on(sim)
    config = simulator_config(
        server.base_url, responses_per_export=1000, newest_first=True, max_concurrent_exports=1
    )
    catalog = configure(discovered, "responses")
    first = run_live(connector.args("read", config, catalog=catalog), killed_after(1, survey))
    bodies = [export.body for export in spy.of(survey)]
    assert "endDate" not in bodies[0] and bodies[0].get("allowContinuation") is True
    ends = [pendulum.parse(body["endDate"]) for body in bodies[1:]]
    assert ends and ends == sorted(ends, reverse=True), "history follows, newest window first"
    emitted = first.records("responses")
    assert {r["responseId"] for r in emitted[: len(recent)]} == recent, "recent responses come first"

    edit_time = pendulum.now("UTC").subtract(seconds=1)
    edited = set(sim.edit_responses(survey, 25))
    resumed = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert resumed.returncode == 0, resumed.tail()
    after = resumed.records("responses")
    latest = {r["responseId"]: pendulum.parse(r["lastModifiedDate"]) for r in after}
    assert set(latest) >= edited, "responses edited during the backfill arrive"
    assert all(latest[rid] >= edit_time for rid in edited), "in their edited version"
    assert set(keys(emitted)) | set(keys(after)) == truth(server)
    assert "backfill" not in partitions(resumed.states("responses")[-1])[survey]


# -- 6. skipping unchanged surveys ----------------------------------------------------------------------


def test_unchanged_surveys_are_skipped_until_their_counts_change_or_the_recheck_is_due(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=3, responses_per_survey=100)
    sim = server.sim
    survey_a, survey_b, _ = sim.survey_ids()
    config = simulator_config(server.base_url, skip_unchanged_surveys=True)
    catalog = configure(discovered, "responses")

    def sync(state: list[dict[str, Any]] | None) -> tuple[Any, int]:
        sim.reset_counts()
        run = connector.run("read", config, catalog=catalog, state=state)
        assert run.returncode == 0, run.tail()
        return run, sim.request_counts().get("POST export-responses", 0)

    first, exports = sync(None)
    assert exports == 3 and set(keys(first.records("responses"))) == truth(server)
    state = first.latest_states()

    unchanged, exports = sync(state)
    assert exports == 0 and unchanged.records("responses") == []

    added = sim.add_responses(survey_a, 2)
    grown, exports = sync(state)
    assert exports == 1 and set(keys(grown.records("responses"))) == {(survey_a, rid) for rid in added}
    state = grown.latest_states()

    edited = sim.edit_responses(survey_b, 3)
    edited_only, exports = sync(state)
    assert exports == 0, "an edit changes no count: not exported before the re-check"

    overdue = copy.deepcopy(edited_only.latest_states() or state)
    day_ago = pendulum.now("UTC").subtract(hours=25).format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")
    for entry in overdue[0]["stream"]["stream_state"]["states"]:
        if entry["partition"]["survey_id"] == survey_b:
            entry["cursor"]["exportedAt"] = day_ago
    rechecked, exports = sync(overdue)
    assert exports == 1
    assert set(keys(rechecked.records("responses"))) == {(survey_b, rid) for rid in edited}


# -- 8. OAuth with short-lived tokens -----------------------------------------------------------------


def test_short_lived_oauth_tokens_are_not_minted_for_every_request(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(surveys=4, responses_per_survey=100, export_seconds=2.0, oauth_token_ttl=3)
    config = {
        "datacenter": server.base_url,
        "credentials": {
            "auth_type": "oauth2_client_credentials",
            "client_id": "sim-client",
            "client_secret": "sim-secret",
        },
        "max_concurrent_exports": 2,
    }
    began = time.monotonic()
    run = connector.run("read", config, catalog=configure(discovered, "responses"))
    seconds = time.monotonic() - began
    assert run.returncode == 0, run.tail()
    assert set(keys(run.records("responses"))) == truth(server)
    counts = server.sim.request_counts()
    mints = counts.get("POST oauth2/token", 0)
    api_requests = counts["200"] - mints
    assert mints >= 2, "the token was refreshed as it aged"
    assert mints <= seconds / 2.4 + 2, f"{mints} mints in {seconds:.1f} s for {api_requests} requests"
    assert mints * 3 <= api_requests
    assert "sim-secret" not in run.raw_stdout + run.stderr
