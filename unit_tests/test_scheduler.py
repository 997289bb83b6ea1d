"""The export scheduler against a scripted Qualtrics on a fake clock: order, cadence, splits, budgets.

`FakeExports` plays the three export endpoints: each export takes its survey's duration on the fake
clock, then completes or fails as the test's `outcome` decides. Sleeping advances the clock, so an
hour of polling runs in milliseconds and every poll's time is exact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from source_qualtrics.dates import instant
from source_qualtrics.errors import CredentialsRejected, QualtricsApiError
from source_qualtrics.export import (
    ExportReady,
    ExportScheduler,
    ExportTask,
    ExportTiming,
    ResponseExporter,
    SurveyFailure,
    ThreadWorkers,
    Workers,
)
from source_qualtrics.export_cache import ExportCache
from source_qualtrics.windows import Window

Outcome = Callable[[str, dict[str, Any], int], str]  # (survey, body, attempt of that body) -> status


def always_complete(survey_id: str, body: dict[str, Any], attempt: int) -> str:
    return "complete"


@dataclass
class Started:
    progress_id: str
    survey_id: str
    body: dict[str, Any]
    at: float
    polls: list[float] = field(default_factory=list)


class FakeExports:
    """The export endpoints of `QualtricsClient`, scripted: durations per survey, outcomes per body."""

    def __init__(self, durations: dict[str, float], outcome: Outcome = always_complete) -> None:
        self.now = 0.0
        self.durations = durations
        self.outcome = outcome
        self.started: dict[str, Started] = {}
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def post_result(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:  # workers start exports from several threads
            progress_id = f"ES_{len(self.started)}"
            self.started[progress_id] = Started(progress_id, path.split("/")[1], dict(body), self.now)
        return {"progressId": progress_id, "percentComplete": 0.0, "status": "inProgress"}

    def get_result(self, path: str) -> dict[str, Any]:
        job = self.started[path.rsplit("/", 1)[1]]
        job.polls.append(self.now)
        if self.now - job.at < self.durations[job.survey_id]:
            return {"percentComplete": 50.0, "status": "inProgress"}
        attempt = sum(1 for other in self.started.values() if other.body == job.body and other.at <= job.at)
        status = self.outcome(job.survey_id, job.body, attempt)
        if status == "failed":
            return {"fileId": None, "percentComplete": 100.0, "status": "failed"}
        return {"fileId": f"file-{job.progress_id}", "percentComplete": 100.0, "status": "complete"}

    def download(self, path: str, sink: IO[bytes], chunk_size: int = 1 << 20) -> int:
        data = b'{"responseId": "R_1", "values": {}}\n'
        sink.write(data)
        return len(data)

    def posts(self, survey_id: str | None = None) -> list[Started]:
        return [job for job in self.started.values() if survey_id in (None, job.survey_id)]


def whole(survey_id: str) -> ExportTask:
    return ExportTask(survey_id, {"format": "ndjson", "survey": survey_id})


def scheduler(
    fake: FakeExports,
    tasks: list[ExportTask],
    tmp_path: Path,
    *,
    concurrency: int = 4,
    timing: ExportTiming | None = None,
    cache: ExportCache | None = None,
    split: Callable[[ExportTask, int], list[ExportTask] | None] = lambda task, attempts: None,
    workers: Workers | None = None,
) -> ExportScheduler:
    exporter = ResponseExporter(
        fake,  # type: ignore[arg-type]  # the export endpoints are all the exporter calls
        lambda: tmp_path,
        timing=timing or ExportTiming(),
        sleep=fake.sleep,
        clock=fake.clock,
    )
    surveys = list(dict.fromkeys(task.survey_id for task in tasks))
    return ExportScheduler(
        exporter, surveys, plan_of(tasks), concurrency, cache or ExportCache(), split=split, workers=workers
    )


def plan_of(tasks: list[ExportTask]) -> Callable[[str], list[ExportTask]]:
    """The stream's `tasks` for a fixed list: each survey's tasks in their listed order."""
    return lambda survey_id: [task for task in tasks if task.survey_id == survey_id]


def chunk_task(survey_id: str, window: Window) -> ExportTask:
    body: dict[str, Any] = {"format": "ndjson", "sortByLastModifiedDate": True, **window.body_dates()}
    if window.limit is not None:
        body["limit"] = window.limit
    return ExportTask(survey_id, body, window, backfill=True)


def chunking(task: ExportTask, attempts: int) -> list[ExportTask] | None:
    """As `responses` splits: a whole window after its second failure, a chunk at once, by halves."""
    assert task.window is not None
    if task.window.limit is None:
        return [chunk_task(task.survey_id, task.window.in_chunks(5000))] if attempts >= 2 else None
    smaller = task.window.smaller_chunks()
    return [chunk_task(task.survey_id, smaller)] if smaller is not None else None


def outcomes(run: ExportScheduler, fake: FakeExports) -> Iterator[tuple[float, ExportReady | SurveyFailure]]:
    """Each result with its time, handled as the stream does: files released, failed surveys dropped."""
    for result in run.results():
        yield fake.now, result
        if isinstance(result, ExportReady):
            result.exported.release()
        else:
            run.drop_survey(result.task.survey_id)


# -- completion order and cadence ---------------------------------------------------------------------


def test_files_come_back_in_the_order_their_exports_finish_not_the_planned_order(tmp_path: Path) -> None:
    fake = FakeExports({"SV_slow": 40.0, "SV_b": 3.0, "SV_c": 1.0, "SV_d": 2.0, "SV_e": 1.0})
    tasks = [whole(survey) for survey in ("SV_slow", "SV_b", "SV_c", "SV_d", "SV_e")]
    results = list(outcomes(scheduler(fake, tasks, tmp_path, concurrency=2), fake))
    order = [result.task.survey_id for _, result in results]
    assert order[-1] == "SV_slow", "one slow export holds back nothing"
    assert set(order[:-1]) == {"SV_b", "SV_c", "SV_d", "SV_e"}
    fast_done = max(at for at, result in results if result.task.survey_id != "SV_slow")
    assert fast_done < 15.0, "the fast surveys are all handed back long before the slow one is ready"


def test_a_finished_export_is_noticed_within_five_seconds(tmp_path: Path) -> None:
    fake = FakeExports({"SV_slow": 41.3})
    ((noticed, result),) = list(outcomes(scheduler(fake, [whole("SV_slow")], tmp_path), fake))
    assert isinstance(result, ExportReady)
    assert 41.3 <= noticed <= 41.3 + 5.0
    polls = fake.posts()[0].polls
    gaps = [later - earlier for earlier, later in zip(polls, polls[1:], strict=False)]
    assert gaps[0] == pytest.approx(0.75) and max(gaps) == pytest.approx(5.0), gaps


def test_a_restarted_export_polls_on_a_fresh_cadence(tmp_path: Path) -> None:
    """The first attempt fails after 30 s, when its polls are 5 s apart; the second starts at 0.5 s again."""
    fake = FakeExports(
        {"SV_a": 30.0}, outcome=lambda survey, body, attempt: "failed" if attempt == 1 else "complete"
    )
    ((_, result),) = list(outcomes(scheduler(fake, [whole("SV_a")], tmp_path), fake))
    assert isinstance(result, ExportReady)
    first, second = fake.posts("SV_a")
    assert first.polls[-1] - first.polls[-2] == pytest.approx(5.0)
    assert second.polls[0] - second.at == pytest.approx(0.5)
    assert second.polls[1] - second.polls[0] == pytest.approx(0.75)


def test_waiting_is_logged_at_the_configured_interval_while_exports_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeExports({"SV_slow": 100.0})
    timing = ExportTiming(log_every_seconds=30.0)
    stamped: list[tuple[float, str]] = []

    class Stamp(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stamped.append((fake.now, record.getMessage()))

    handler = Stamp()
    logging.getLogger("airbyte").addHandler(handler)
    try:
        list(outcomes(scheduler(fake, [whole("SV_slow")], tmp_path, timing=timing), fake))
    finally:
        logging.getLogger("airbyte").removeHandler(handler)
    started = [at for at, message in stamped if "export ES_0 started" in message]
    waiting = [at for at, message in stamped if "waiting for 1 export(s): SV_slow" in message]
    assert started == [0.0], "a log line as the export starts"
    beats = [0.0, *waiting, 100.0]
    assert len(waiting) >= 3
    assert max(later - earlier for earlier, later in zip(beats, beats[1:], strict=False)) <= 30.0 + 5.0


# -- failures: retry, split, budget, floor ----------------------------------------------------------


def window_task(survey_id: str, window: Window) -> ExportTask:
    return ExportTask(survey_id, {"format": "ndjson", **window.body_dates()}, window)


def halving(now: str, earliest: str) -> Callable[[ExportTask, int], list[ExportTask] | None]:
    def split(task: ExportTask, attempts: int) -> list[ExportTask] | None:
        assert task.window is not None
        if attempts < 2:
            return None
        halves = task.window.halves(instant(now), instant(earliest))
        return [window_task(task.survey_id, half) for half in halves] if halves else None

    return split


def too_large_unless_closed(survey_id: str, body: dict[str, Any], attempt: int) -> str:
    """Qualtrics fails the whole-range export (no dates) for size; any narrower window fits."""
    return "complete" if "endDate" in body or "startDate" in body else "failed"


def test_a_window_that_fails_twice_is_exported_in_halves(tmp_path: Path) -> None:
    fake = FakeExports({"SV_big": 1.0}, outcome=too_large_unless_closed)
    task = window_task("SV_big", Window(None, None))
    split = halving("2025-01-01T00:00:00Z", "2024-01-01T00:00:00Z")
    results = [result for _, result in outcomes(scheduler(fake, [task], tmp_path, split=split), fake)]
    assert all(isinstance(result, ExportReady) for result in results)
    windows = [result.task.window for result in results]
    middle = instant("2024-07-02T00:00:00Z")
    assert sorted(windows, key=lambda w: w is not None and w.end is None) == [
        Window(None, middle),
        Window(middle, None),
    ]
    bodies = [job.body for job in fake.posts()]
    assert bodies[:2] == [task.body, task.body], "the same export is tried once more before splitting"
    assert len(bodies) == 4


def over_cap(cap: int) -> Outcome:
    """Qualtrics fails any export of a big survey (100,000 responses; SV_fine is small) that would hold
    more than `cap` responses."""

    def outcome(survey: str, body: dict[str, Any], attempt: int) -> str:
        fits = survey == "SV_fine" or body.get("limit", 100_000) <= cap
        return "complete" if fits else "failed"

    return outcome


def test_a_window_too_big_for_any_export_converges_in_chunks_whatever_the_failures_cost(
    tmp_path: Path,
) -> None:
    """No fixed budget: every halving is progress, so a survey that fits only 300 at a time syncs."""
    fake = FakeExports({"SV_big": 1.0, "SV_fine": 1.0}, outcome=over_cap(300))
    tasks = [window_task("SV_big", Window(None, None)), whole("SV_fine")]
    results = [r for _, r in outcomes(scheduler(fake, tasks, tmp_path, split=chunking), fake)]
    assert all(isinstance(r, ExportReady) for r in results)
    (big,) = [r.task for r in results if r.task.survey_id == "SV_big"]
    assert big.window is not None and big.window.limit == 5000 // 2**5 == 156
    limits = [job.body.get("limit") for job in fake.posts("SV_big")]
    assert limits == [None, None, 5000, 2500, 1250, 625, 312, 156], "each failed chunk halves at once"


def test_a_single_response_no_export_can_hold_fails_naming_the_size_limit_and_the_chunk(
    tmp_path: Path,
) -> None:
    fake = FakeExports({"SV_dense": 1.0, "SV_fine": 1.0}, outcome=over_cap(0))
    window = Window(instant("2025-03-01T10:00:00Z"), instant("2025-03-01T10:15:00Z"), limit=2)
    tasks = [chunk_task("SV_dense", window), whole("SV_fine")]
    results = [r for _, r in outcomes(scheduler(fake, tasks, tmp_path, split=chunking), fake)]
    failures = [r for r in results if isinstance(r, SurveyFailure)]
    assert [r.task.survey_id for r in results if isinstance(r, ExportReady)] == ["SV_fine"]
    (failure,) = failures
    reason = failure.failure.reason
    assert "size limit" in reason and "the next 1 response of [2025-03-01T10:00:00Z" in reason, reason
    assert not failure.failure.is_config_error
    limits = [job.body["limit"] for job in fake.posts("SV_dense")]
    assert limits == [2] + [1] * ExportTiming().job_attempts


def test_a_window_too_narrow_to_split_fails_naming_the_size_limit_and_the_window(tmp_path: Path) -> None:
    fake = FakeExports({"SV_dense": 1.0}, outcome=lambda survey, body, attempt: "failed")
    narrow = Window(instant("2025-03-01T10:00:00Z"), instant("2025-03-01T10:15:00Z"))
    split = halving("2025-06-01T00:00:00Z", "2025-01-01T00:00:00Z")
    results = [
        r
        for _, r in outcomes(scheduler(fake, [window_task("SV_dense", narrow)], tmp_path, split=split), fake)
    ]
    (failure,) = results
    assert isinstance(failure, SurveyFailure)
    reason = failure.failure.reason
    assert "size limit" in reason and narrow.describe() in reason, reason
    assert not failure.failure.is_config_error
    assert len(fake.posts()) == ExportTiming().job_attempts


def test_tasks_are_planned_while_the_running_exports_wait_and_the_biggest_start_first(tmp_path: Path) -> None:
    """Planning (which may read each survey's details) waits for no export, and no export waits for it."""
    fake = FakeExports({f"SV_{n}": 10.0 for n in range(6)})
    planned: list[tuple[float, str]] = []

    def plan(survey_id: str) -> list[ExportTask]:
        planned.append((fake.now, survey_id))
        return [whole(survey_id)]

    exporter = ResponseExporter(fake, lambda: tmp_path, sleep=fake.sleep, clock=fake.clock)  # type: ignore[arg-type]
    sizes = {"SV_4": 900, "SV_5": 800}
    surveys = [f"SV_{n}" for n in range(6)]
    run = ExportScheduler(
        exporter, surveys, plan, 2, ExportCache(), size=lambda task: sizes.get(task.survey_id, 0)
    )
    results = run.results()
    assert isinstance(next(results), ExportReady)
    assert [at for at, _ in planned] == [0.0] * 6, "all planned before the first export finished"
    assert run.planning_done
    assert all(isinstance(result, ExportReady) for result in results)
    started = [job.survey_id for job in fake.posts()]
    assert started == ["SV_0", "SV_1", "SV_4", "SV_5", "SV_2", "SV_3"], "then the biggest first"


# -- the per-sync cache -----------------------------------------------------------------------------


def test_a_second_stream_reuses_the_file_of_the_same_export_without_exporting_again(tmp_path: Path) -> None:
    fake = FakeExports({"SV_a": 2.0, "SV_b": 2.0})
    cache = ExportCache(readers=2)
    tasks = [whole("SV_a"), whole("SV_b")]
    first = [r for _, r in outcomes(scheduler(fake, tasks, tmp_path, cache=cache), fake)]
    assert len(fake.posts()) == 2 and all(isinstance(r, ExportReady) for r in first)
    second = [r for _, r in outcomes(scheduler(fake, tasks, tmp_path, cache=cache), fake)]
    assert len(fake.posts()) == 2, "no new export"
    assert {r.task.survey_id for r in second} == {"SV_a", "SV_b"}
    assert not list(tmp_path.iterdir()), "each file is deleted once both readers are done"


# -- overlap: the workers' calls, the reading thread's decisions -------------------------------------


class Gate:
    """Holds each caller until `parties` callers are inside at once: a call that passes proves overlap
    (with calls one at a time it breaks after its timeout and the call fails)."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10.0)
        self.threads: set[str] = set()

    def enter(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()


class GatedExports(FakeExports):
    """FakeExports on the real clock, whose polls or downloads wait at a gate."""

    def __init__(self, surveys: list[str], *, polls: Gate | None = None, downloads: Gate | None = None):
        super().__init__(dict.fromkeys(surveys, 0.0))
        self.poll_gate, self.download_gate = polls, downloads

    def get_result(self, path: str) -> dict[str, Any]:
        if self.poll_gate is not None:
            self.poll_gate.enter()
        return super().get_result(path)

    def download(self, path: str, sink: IO[bytes], chunk_size: int = 1 << 20) -> int:
        if self.download_gate is not None:
            self.download_gate.enter()
        return super().download(path, sink, chunk_size)


QUICK = ExportTiming(first_poll_delay=0.01, max_poll_delay=0.05)


def threaded(
    fake: FakeExports, tasks: list[ExportTask], tmp_path: Path, *, concurrency: int = 4, workers: int = 8
) -> ExportScheduler:
    """A scheduler on the real clock with worker threads, as a sync runs it."""
    exporter = ResponseExporter(fake, lambda: tmp_path, timing=QUICK)  # type: ignore[arg-type]
    surveys = list(dict.fromkeys(task.survey_id for task in tasks))
    return ExportScheduler(
        exporter, surveys, plan_of(tasks), concurrency, ExportCache(), workers=ThreadWorkers(workers)
    )


def test_polls_of_running_exports_are_in_flight_together_on_worker_threads(tmp_path: Path) -> None:
    surveys = ["SV_a", "SV_b", "SV_c"]
    gate = Gate(3)
    fake = GatedExports(surveys, polls=gate)
    results = list(threaded(fake, [whole(s) for s in surveys], tmp_path).results())
    assert sorted(r.task.survey_id for r in results if isinstance(r, ExportReady)) == surveys
    assert threading.current_thread().name not in gate.threads, "the polls ran on the workers"
    assert all(len(job.polls) == 1 for job in fake.posts()), "one poll each: none repeated for overlap"


def test_downloads_of_finished_exports_are_in_flight_together(tmp_path: Path) -> None:
    surveys = ["SV_a", "SV_b"]
    fake = GatedExports(surveys, downloads=Gate(2))
    results = list(threaded(fake, [whole(s) for s in surveys], tmp_path).results())
    assert sorted(r.task.survey_id for r in results if isinstance(r, ExportReady)) == surveys


def test_downloaded_files_not_yet_handed_back_are_bounded_by_the_concurrency(tmp_path: Path) -> None:
    """Twelve exports finish at once; the reader holds every file it got: no more than `concurrency`
    others are on disk, waiting for it."""
    fake = FakeExports({f"SV_{n}": 1.0 for n in range(12)})
    run = scheduler(fake, [whole(f"SV_{n}") for n in range(12)], tmp_path, concurrency=3)
    handed_back = 0
    waiting: list[int] = []
    for result in run.results():
        assert isinstance(result, ExportReady)
        handed_back += 1
        waiting.append(len(list(tmp_path.iterdir())) - handed_back)
    assert handed_back == 12
    assert max(waiting) <= 3, waiting


def test_a_failing_survey_among_overlapping_exports_fails_alone(tmp_path: Path) -> None:
    surveys = [f"SV_{n}" for n in range(6)]

    class OneForbidden(GatedExports):
        def post_result(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
            if path.split("/")[1] == "SV_3":
                raise QualtricsApiError(403, "not allowed", url=path)
            return super().post_result(path, body)

    fake = OneForbidden(surveys)
    results = list(threaded(fake, [whole(s) for s in surveys], tmp_path, concurrency=3).results())
    failures = [r for r in results if isinstance(r, SurveyFailure)]
    assert [f.task.survey_id for f in failures] == ["SV_3"] and failures[0].failure.is_config_error
    assert sorted(r.task.survey_id for r in results if isinstance(r, ExportReady)) == [
        s for s in surveys if s != "SV_3"
    ]


def test_a_rejected_credential_on_a_worker_stops_the_scheduler(tmp_path: Path) -> None:
    class Rejecting(GatedExports):
        def get_result(self, path: str) -> dict[str, Any]:
            raise CredentialsRejected("Qualtrics rejected the credentials")

    run = threaded(Rejecting(["SV_a", "SV_b"]), [whole("SV_a"), whole("SV_b")], tmp_path)
    with pytest.raises(CredentialsRejected):
        list(run.results())


def test_planning_reads_run_ahead_on_the_workers_and_each_survey_is_read_once(tmp_path: Path) -> None:
    surveys = [f"SV_{n}" for n in range(20)]
    fake = GatedExports(surveys)
    prepared: list[tuple[str, str]] = []
    exporter = ResponseExporter(fake, lambda: tmp_path, timing=QUICK)  # type: ignore[arg-type]
    run = ExportScheduler(
        exporter,
        surveys,
        lambda survey_id: [whole(survey_id)],
        2,
        ExportCache(),
        prepare=lambda survey_id: prepared.append((survey_id, threading.current_thread().name)),
        workers=ThreadWorkers(6),
    )
    results = list(run.results())
    assert len(results) == 20 and run.planning_done
    assert sorted(survey for survey, _ in prepared) == sorted(surveys), "each survey prepared once"
    assert threading.current_thread().name not in {thread for _, thread in prepared}


def test_closing_the_results_early_cancels_queued_work_and_waits_for_no_running_call(tmp_path: Path) -> None:
    released = threading.Event()

    class Stuck(GatedExports):
        def get_result(self, path: str) -> dict[str, Any]:
            if self.started[path.rsplit("/", 1)[1]].survey_id == "SV_stuck":
                released.wait(30.0)
            return super().get_result(path)

    fake = Stuck(["SV_fast", "SV_stuck"])
    run = threaded(fake, [whole("SV_stuck"), whole("SV_fast")], tmp_path, concurrency=2)
    results = run.results()
    first = next(results)
    assert first.task.survey_id == "SV_fast"
    results.close()  # returns although SV_stuck's poll is still in flight
    stuck = [t for t in threading.enumerate() if t.name.startswith("export-")]
    assert stuck and all(thread.daemon for thread in stuck), "a call still running never holds the process"
    released.set()


def test_thread_workers_cancel_calls_not_yet_started_when_shut_down() -> None:
    workers = ThreadWorkers(1)
    entered, release = threading.Event(), threading.Event()

    def block() -> str:
        entered.set()
        release.wait(10.0)
        return "done"

    running = workers.submit(block)
    assert entered.wait(10.0)
    queued = workers.submit(lambda: "never")
    workers.shutdown()
    release.set()
    assert running.result(timeout=10.0) == "done"
    assert queued.cancelled()
