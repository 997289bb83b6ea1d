"""Qualtrics' response export, job by job: start -> poll progress -> download -> the file's records.

Qualtrics has no list endpoint for responses; every response arrives through an asynchronous export
job, and the server-side wait dominates a sync. `ExportScheduler` keeps up to K jobs running and hands
back each file as soon as it is ready, in completion order, so one slow export holds back nothing.
Its unit of work is one export of one survey over one window of time (`ExportTask`); a failure stays
with its survey, and a window Qualtrics cannot export whole is split. Files are spooled to disk and
read as a stream (`export_file.py`), so memory stays flat whatever the survey's size. On a distant
datacenter every request is a round trip, so the scheduler's requests run on worker threads and overlap;
its decisions and the parsing stay on the thread that reads its results.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from source_qualtrics.client import QualtricsClient, TruncatedDownload
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export_cache import ExportCache, ExportedFile
from source_qualtrics.export_file import (
    CorruptExport,
    MalformedExportLine,
    iter_export_file,
    verify_export_file,
)
from source_qualtrics.windows import Window

logger = logging.getLogger("airbyte")


@dataclass(frozen=True)
class ExportTiming:
    """Polling cadence and patience; small values make tests fast, defaults suit the real API.

    Each job polls on its own clock, starting at `first_poll_delay` and growing to `max_poll_delay`,
    so a finished export is noticed within a few seconds and a restarted job starts its cadence afresh.
    """

    first_poll_delay: float = 0.5
    max_poll_delay: float = 5.0
    poll_growth: float = 1.5
    max_wait_seconds: float = 6 * 3600.0
    log_every_seconds: float = 30.0
    job_attempts: int = 3  # starts of one export before it fails (lost jobs, missing fileIds, failures)
    download_attempts: int = 3


@dataclass(frozen=True)
class ExportTask:
    """One export of one survey: a window of time, or the changes since a continuation token."""

    survey_id: str
    body: dict[str, Any]
    window: Window | None = None  # None: a continuation-token export
    fallback: ExportTask | None = None  # what to export instead if Qualtrics refuses the token
    backfill: bool = False  # a window or chunk of a big survey: checkpointed right after its records

    def describe(self) -> str:
        return self.window.describe() if self.window else "changes since the last sync"


@dataclass
class ExportJob:
    """A task's export running on the server."""

    task: ExportTask
    progress_id: str
    body: dict[str, Any]
    used_fallback: bool
    began: float
    next_poll: float
    delay: float
    attempts: int = 1
    percent: float = 0.0


@dataclass
class ExportReady:
    """A task whose file is on disk (exported now, or by another stream earlier in this sync)."""

    task: ExportTask
    exported: ExportedFile


@dataclass
class SurveyFailure:
    """What the scheduler hands back instead of a file when a task cannot be exported."""

    task: ExportTask
    failure: ExportFailed


class ResponseExporter:
    """The HTTP steps of one export, with Qualtrics' quirks handled."""

    def __init__(
        self,
        client: QualtricsClient,
        spool_dir: Callable[[], Path],
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._spool_dir = spool_dir
        self.timing = timing or ExportTiming()
        self.sleep = sleep
        self.clock = clock

    def start(self, task: ExportTask) -> ExportJob:
        """POST the export; a refused continuation token falls back to the task's date window."""
        try:
            return self._post(task, task.body, used_fallback=False)
        except QualtricsApiError as error:
            refused = error.status in (400, 404, 410)
            if refused and "continuationToken" in task.body and task.fallback is not None:
                logger.warning(
                    "Survey %s: Qualtrics refused the stored continuation token (%s); "
                    "falling back to a date window from the last synced timestamp.",
                    task.survey_id,
                    error.api_message,
                )
                try:
                    return self._post(task, task.fallback.body, used_fallback=True)
                except QualtricsApiError as again:
                    raise as_export_failure(task.survey_id, again, "starting the export") from None
            raise as_export_failure(task.survey_id, error, "starting the export") from None

    def _post(self, task: ExportTask, body: dict[str, Any], *, used_fallback: bool) -> ExportJob:
        result = self._client.post_result(f"surveys/{task.survey_id}/export-responses", body)
        progress_id = result.get("progressId")
        if not isinstance(progress_id, str) or not progress_id:
            raise ExportFailed(task.survey_id, "Qualtrics started an export but returned no progressId")
        logger.info("Survey %s: export %s started for %s", task.survey_id, progress_id, task.describe())
        now = self.clock()
        first = self.timing.first_poll_delay
        return ExportJob(
            task, progress_id, body, used_fallback, began=now, next_poll=now + first, delay=first
        )

    def poll(self, job: ExportJob) -> dict[str, Any]:
        """Ask once how the job is doing; the progress `result` as Qualtrics sent it."""
        survey_id = job.task.survey_id
        try:
            result = self._client.get_result(f"surveys/{survey_id}/export-responses/{job.progress_id}")
        except QualtricsApiError as error:
            if error.status == 404:  # Qualtrics lost the job: a fresh start is the documented remedy
                return {"status": "lost"}
            raise as_export_failure(survey_id, error, "polling the export") from None
        percent = result.get("percentComplete")
        job.percent = float(percent) if isinstance(percent, (int, float)) else job.percent
        job.delay = min(self.timing.max_poll_delay, job.delay * self.timing.poll_growth)
        job.next_poll = self.clock() + job.delay
        return result

    def restart(self, job: ExportJob, reason: str) -> None:
        """Start the same export again, with a fresh polling cadence; bounded by `job_attempts`."""
        task = job.task
        if job.attempts >= self.timing.job_attempts:
            raise ExportFailed(task.survey_id, f"{reason} (after {job.attempts} attempts)")
        logger.warning("Survey %s: %s; starting the export again", task.survey_id, reason)
        try:
            fresh = self._post(task, job.body, used_fallback=job.used_fallback)
        except QualtricsApiError as error:
            raise as_export_failure(task.survey_id, error, "restarting the export") from None
        fresh.attempts = job.attempts + 1
        job.__dict__.update(fresh.__dict__)

    def download(self, survey_id: str, file_id: str) -> Path:
        """Spool the file to disk and prove it is whole (length, zip CRCs) before anything is parsed."""
        last_error = ""
        for attempt in range(1, self.timing.download_attempts + 1):
            handle, name = tempfile.mkstemp(prefix=f"{survey_id}-", suffix=".export", dir=self._spool_dir())
            path = Path(name)
            try:
                began = self.clock()
                with os.fdopen(handle, "wb") as sink:
                    size = self._client.download(f"surveys/{survey_id}/export-responses/{file_id}/file", sink)
                logger.info(
                    "Survey %s: downloaded %.1f MB in %.1f s", survey_id, size / 1e6, self.clock() - began
                )
                verify_export_file(path)
                return path
            except (TruncatedDownload, CorruptExport, QualtricsConnectionError) as error:
                path.unlink(missing_ok=True)
                last_error = str(error)
                logger.warning("Survey %s: download attempt %d failed: %s", survey_id, attempt, error)
            except QualtricsApiError as error:
                path.unlink(missing_ok=True)
                raise as_export_failure(survey_id, error, "downloading the export") from None
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        raise ExportFailed(survey_id, f"the export file could not be downloaded whole ({last_error})")


def records_of(exported: ExportedFile, refetch: Callable[[], Path] | None) -> Iterator[dict[str, Any]]:
    """Stream a file's records; a malformed line costs one fresh download, resumed past what was emitted."""
    emitted = 0
    refetched = False
    while True:
        records: Iterator[dict[str, Any]] = iter_export_file(exported.path, exported.survey_id)
        if emitted:
            records = itertools.islice(records, emitted, None)
        try:
            for record in records:
                emitted += 1
                yield record
            return
        except (MalformedExportLine, CorruptExport) as error:
            # CorruptExport here means the spooled file changed after it was verified.
            reason = error.reason if isinstance(error, MalformedExportLine) else str(error)
            if refetched or refetch is None:
                raise ExportFailed(
                    exported.survey_id, f"{reason}, also after downloading the file again"
                ) from None
            refetched = True
            logger.warning("Survey %s: %s; downloading the file again", exported.survey_id, reason)
            exported.replace_file(refetch())


class Workers(Protocol):
    """Where the scheduler's HTTP calls run: `submit` returns at once with the call's future."""

    size: int

    def submit(self, call: Callable[[], Any]) -> Future[Any]: ...

    def shutdown(self) -> None: ...


class InlineWorkers:
    """Every call runs at once on the calling thread: one request at a time, and a fake clock in tests
    stays exact."""

    size = 1

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(call())
        except BaseException as error:  # handed to whoever reads the result, as a thread would
            future.set_exception(error)
        return future

    def shutdown(self) -> None:
        return None


class ThreadWorkers:
    """Up to `size` daemon threads, started as needed. Daemon threads, so a request still in flight when
    the sync ends (a read timeout is minutes) never holds the process; queued calls are cancelled."""

    def __init__(self, size: int, name: str = "export") -> None:
        self.size = max(1, size)
        self._name = name
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._outstanding = 0  # calls submitted and not finished
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._outstanding += 1
            if self._outstanding > len(self._threads) and len(self._threads) < self.size:
                name = f"{self._name}-{len(self._threads)}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                self._threads.append(thread)
                thread.start()
        self._calls.put((future, call))
        return future

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # the main thread re-raises it where the result is read
                    future.set_exception(error)
            with self._lock:
                self._outstanding -= 1

    def shutdown(self) -> None:
        """Cancel what has not started; running calls finish on their own (their results are ignored)."""
        while True:
            try:
                item = self._calls.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._calls.put(None)


@dataclass
class _Work:
    """A call in flight on a worker, and what it was for."""

    kind: str  # "start", "restart", "poll", "download", "prepare"
    task: ExportTask | None = None
    job: ExportJob | None = None
    file_id: str = ""  # of a download: what it fetches, and what the next sync needs from it
    continuation: Any = None
    used_fallback: bool = False


class ExportScheduler:
    """Runs tasks with up to `concurrency` exports on the server; yields each file when it is ready.

    The HTTP calls (starts, polls, downloads, the reads planning needs) run on `workers`, up to its
    size at once; every decision, and every call to the stream (`plan`, `split`, `size`), stays on the
    thread reading `results`, which also parses the files: the scheduler's and the stream's state have
    one writer. Each job polls on its own cadence; downloaded files not yet handed back are bounded by
    `concurrency`, so disk and memory stay bounded however fast the exports finish.

    Surveys are planned lazily and ahead of need: `prepare` (the reads `plan` will make, e.g. a
    survey's details) runs on the workers while exports wait, so at 10,000 surveys the first exports
    start at once instead of after 10,000 reads. Among the planned tasks, urgent ones (the next chunk or
    the pieces of a survey already under way) start first, then the biggest by `size`.

    `split` says how to cut a task whose export Qualtrics reports as failed, given how many times it
    was tried (None: the same export is tried again, up to `job_attempts`). A survey's failure never
    touches another survey; `drop_survey` cancels what is left of a survey that failed.
    """

    def __init__(
        self,
        exporter: ResponseExporter,
        surveys: Sequence[str],
        plan: Callable[[str], list[ExportTask]],
        concurrency: int,
        cache: ExportCache,
        *,
        prepare: Callable[[str], None] | None = None,
        workers: Workers | None = None,
        split: Callable[[ExportTask, int], list[ExportTask] | None] = lambda task, attempts: None,
        size: Callable[[ExportTask], int] = lambda task: 0,
        label: str = "responses",
    ) -> None:
        self.exporter = exporter
        self.concurrency = max(1, concurrency)
        self.cache = cache
        self.split = split
        self.size = size
        self.label = label
        self._surveys = list(surveys)
        self._plan = plan
        self._prepare = prepare
        self._workers: Workers = workers or InlineWorkers()
        self._planned = 0  # surveys planned so far (in `_surveys` order)
        self._planned_exports = 0
        self._preparing: dict[int, Future[Any]] = {}  # survey index -> its prepare call
        self._prepared_up_to = 0  # surveys whose prepare was submitted
        self._pending: list[tuple[tuple[int, int, int], ExportTask]] = []  # a heap: urgent, biggest, order
        self._order = itertools.count()
        self._ready: deque[ExportReady | SurveyFailure] = deque()
        self._running: list[ExportJob] = []
        self._polling: set[int] = set()  # ids of running jobs with a poll or restart in flight
        self._starting = 0
        self._to_download: deque[_Work] = deque()
        self._in_flight: dict[Future[Any], _Work] = {}
        self._dropped: set[str] = set()
        self._closed = False
        self._last_log = exporter.clock()

    @property
    def planning_done(self) -> bool:
        return self._planned >= len(self._surveys)

    @property
    def exhausted(self) -> bool:
        """Nothing left to plan, start, wait for or hand back: the result just handed back was the last."""
        return self._finished() and not self._ready

    def add(self, task: ExportTask) -> None:
        """A task for a survey already under way (its next chunk): it starts before any new survey."""
        heapq.heappush(self._pending, ((0, 0, next(self._order)), task))

    def drop_survey(self, survey_id: str) -> None:
        self._dropped.add(survey_id)
        self._running = [job for job in self._running if job.task.survey_id != survey_id]

    def results(self) -> Generator[ExportReady | SurveyFailure, None, None]:
        """Files (and failures) in the order their exports finish; closing it stops the workers."""
        try:
            while True:
                self._collect()
                self._dispatch()
                if self._ready:
                    result = self._ready.popleft()
                    if result.task.survey_id in self._dropped:
                        if isinstance(result, ExportReady):
                            result.exported.release()
                        continue
                    yield result
                    continue
                if self._finished():
                    return
                self._wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop: queued calls cancelled, files downloaded but never handed back deleted."""
        if self._closed:
            return
        self._closed = True
        self._workers.shutdown()
        for result in self._ready:
            if isinstance(result, ExportReady):
                result.exported.release()
        self._ready.clear()
        for future, work in self._in_flight.items():
            if work.kind == "download":
                future.add_done_callback(discard_download)
        self._in_flight.clear()
        self._to_download.clear()

    def _finished(self) -> bool:
        return not (
            self._in_flight
            or self._running
            or self._starting
            or self._pending
            or self._to_download
            or not self.planning_done
        )

    # -- what the workers do ----------------------------------------------------------------------------

    def _submit(self, work: _Work, call: Callable[[], Any]) -> None:
        self._in_flight[self._workers.submit(call)] = work

    def _files_held(self) -> int:
        """Downloaded files not yet handed back, and downloads under way: bounded by `concurrency`."""
        ready = sum(1 for result in self._ready if isinstance(result, ExportReady))
        return ready + sum(1 for work in self._in_flight.values() if work.kind == "download")

    def _dispatch(self) -> None:
        """Hand the workers what is due, most urgent first: downloads, polls, starts, then planning."""
        while self._to_download and self._free() and self._files_held() < self.concurrency:
            work = self._to_download.popleft()
            assert work.task is not None
            self._submit(work, partial(self.exporter.download, work.task.survey_id, work.file_id))
        now = self.exporter.clock()
        for job in sorted(self._running, key=lambda job: job.next_poll):
            if not self._free() or job.next_poll > now:
                break
            if id(job) not in self._polling:
                self._polling.add(id(job))
                self._submit(_Work("poll", job=job), partial(self.exporter.poll, job))
        while self._free() and len(self._running) + self._starting < self.concurrency:
            task = self._next_pending()
            if task is None:
                break
            self._starting += 1
            self._submit(_Work("start", task=task), partial(self.exporter.start, task))
        self._read_ahead()
        self._plan_until(self._next_wake())

    def _free(self) -> bool:
        """Whether a worker is free (inline workers always are: their calls are done when submitted)."""
        return sum(1 for future in self._in_flight if not future.done()) < self._workers.size

    # -- planning -------------------------------------------------------------------------------------

    def _read_ahead(self) -> None:
        """Run `prepare` for the next surveys on free workers, leaving one per export for its polls."""
        if self._prepare is None:
            return
        limit = max(1, self._workers.size - self.concurrency)
        preparing = sum(1 for future in self._preparing.values() if not future.done())
        while self._free() and preparing < limit and self._prepared_up_to < len(self._surveys):
            index = self._prepared_up_to
            future = self._workers.submit(partial(self._prepare, self._surveys[index]))
            self._in_flight[future] = _Work("prepare")
            self._preparing[index] = future
            self._prepared_up_to += 1
            preparing += 0 if future.done() else 1

    def _plan_one(self) -> bool:
        """Plan the next survey if its reads are done (a file this sync already holds is reused at once)."""
        if self.planning_done:
            return False
        index = self._planned
        if self._prepare is not None:
            if index >= self._prepared_up_to:
                self._read_ahead()
            future = self._preparing.get(index)
            if future is None or not future.done():
                return False
            del self._preparing[index]
            future.result()  # a read that stops the sync (a rejected credential) stops it here
        survey_id = self._surveys[index]
        tasks = self._plan(survey_id)
        self._planned += 1
        self._planned_exports += len(tasks)
        if self.planning_done:
            logger.info(
                "%s: planned %d export(s) for %d survey(s)", self.label, self._planned_exports, self._planned
            )
        for task in tasks:
            exported = self.cache.take(task.survey_id, task.body) if self.cache.holds_files() else None
            if exported is not None:
                logger.info("Survey %s: reusing this sync's export of %s", task.survey_id, task.describe())
                self._ready.append(ExportReady(task, exported))
            else:
                heapq.heappush(self._pending, ((1, -self.size(task), next(self._order)), task))
        return True

    def _plan_until(self, wake: float | None) -> None:
        """Plan what was read ahead, while no running export needs a poll."""
        while (wake is None or self.exporter.clock() < wake) and self._plan_one():
            pass

    def _next_pending(self) -> ExportTask | None:
        while self._pending or self._plan_one():
            if not self._pending:
                continue  # that survey needs no export, or its file was reused
            _, task = heapq.heappop(self._pending)
            if task.survey_id not in self._dropped:
                return task
        return None

    # -- results of the workers' calls ------------------------------------------------------------------

    def _collect(self) -> None:
        """Act on every call that finished, in the order they were handed out."""
        for future in [future for future in self._in_flight if future.done()]:
            work = self._in_flight.pop(future)
            outcome = self._settle(work, future)
            if outcome is not None:
                self._ready.append(outcome)

    def _settle(self, work: _Work, future: Future[Any]) -> ExportReady | SurveyFailure | None:
        if work.kind == "prepare":
            return None  # its result (or error) is read when the survey is planned
        job = work.job
        if job is not None:
            self._polling.discard(id(job))
        task = work.task or (job.task if job is not None else None)
        assert task is not None
        try:
            if work.kind == "start":
                self._starting -= 1
                started: ExportJob = future.result()
                if task.survey_id not in self._dropped:
                    self._running.append(started)
            elif work.kind == "download":
                return self._downloaded(work, future.result())
            elif job is not None and job in self._running:
                if work.kind == "restart":
                    future.result()
                else:
                    self._advance(job, future.result())
        except ExportFailed as failure:
            if job is not None and job in self._running:
                self._running.remove(job)
            return SurveyFailure(task, failure)
        return None

    def _advance(self, job: ExportJob, result: dict[str, Any]) -> None:
        """A poll's answer: a finished export is downloaded, a failed one split or restarted."""
        task = job.task
        status = result.get("status")
        if status == "complete":
            file_id = result.get("fileId")
            if isinstance(file_id, str) and file_id:
                self._running.remove(job)
                took = self.exporter.clock() - job.began
                logger.info(
                    "Survey %s: export of %s complete after %.1f s", task.survey_id, task.describe(), took
                )
                continuation = result.get("continuationToken")
                self._to_download.append(
                    _Work("download", task, None, file_id, continuation, job.used_fallback)
                )
                return
            self._restart(job, "export completed without a fileId")
        elif status == "failed":
            self._failed(job)
        elif status == "lost":
            self._restart(job, f"export {job.progress_id} is unknown to Qualtrics")
        elif self.exporter.clock() - job.began > self.exporter.timing.max_wait_seconds:
            wait = self.exporter.timing.max_wait_seconds
            raise ExportFailed(task.survey_id, f"export did not complete within {wait:.0f} s")

    def _restart(self, job: ExportJob, reason: str) -> None:
        self._polling.add(id(job))
        self._submit(_Work("restart", job=job), partial(self.exporter.restart, job, reason))

    def _failed(self, job: ExportJob) -> None:
        """Qualtrics gives no reason for a failed export; for a big one the likely reason is its size.

        The stream's `split` decides: smaller chunks or windows (each one that succeeds is progress, so
        there is no fixed budget per survey), or None to try the same export again. A survey gives up
        only when an export that cannot be cut any smaller failed `job_attempts` times.
        """
        task = job.task
        pieces = self.split(task, job.attempts)
        if pieces:
            logger.warning(
                "Survey %s: Qualtrics failed the export of %s; exporting it as %s",
                task.survey_id,
                task.describe(),
                " and ".join(piece.describe() for piece in pieces),
            )
            self._running.remove(job)
            for piece in pieces:
                self.add(piece)
            return
        if job.attempts >= self.exporter.timing.job_attempts:
            raise too_large(
                task, f"Qualtrics failed {job.attempts} exports of {task.describe()}, too narrow to split"
            )
        self._restart(job, f"Qualtrics reported export {job.progress_id} as failed")

    def _downloaded(self, work: _Work, path: Path) -> ExportReady:
        task = work.task
        assert task is not None
        survey_id, file_id, token = task.survey_id, work.file_id, work.continuation
        exported = self.cache.add(
            survey_id,
            task.body,
            path,
            token if isinstance(token, str) and token else None,
            used_fallback=work.used_fallback,
            refetch=lambda: self.exporter.download(survey_id, file_id),
        )
        return ExportReady(task, exported)

    # -- waiting --------------------------------------------------------------------------------------

    def _next_wake(self) -> float | None:
        """When the next idle job is due a poll (None: no job waits for one)."""
        due = [job.next_poll for job in self._running if id(job) not in self._polling]
        return min(due) if due else None

    def _wait(self) -> None:
        """Until a worker's call finishes or the next poll is due."""
        pending = [future for future in self._in_flight if not future.done()]
        if len(pending) < len(self._in_flight):
            return  # a finished call (every call, with inline workers) is acted on first
        wake = self._next_wake()
        now = self.exporter.clock()
        self._log_waiting(now)
        if pending:
            timeout = None if wake is None else max(0.0, wake - now)
            wait_for(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        elif wake is not None:
            self.exporter.sleep(max(0.0, wake - now))

    def _log_waiting(self, now: float) -> None:
        if now - self._last_log < self.exporter.timing.log_every_seconds or not self._running:
            return
        self._last_log = now
        running = ", ".join(
            f"{job.task.survey_id} {job.percent:.0f}% after {now - job.began:.0f} s" for job in self._running
        )
        logger.info("%s: waiting for %d export(s): %s", self.label, len(self._running), running)


def discard_download(future: Future[Any]) -> None:
    """A file downloaded after the scheduler closed goes at once: nothing will read it."""
    if not future.cancelled() and future.exception() is None and isinstance(future.result(), Path):
        future.result().unlink(missing_ok=True)


def too_large(task: ExportTask, what: str) -> ExportFailed:
    """A survey given up after failed exports: Qualtrics gives no reason, its size limit is the likely one."""
    return ExportFailed(
        task.survey_id,
        f"{what}. Qualtrics fails exports over its size limit (1.8 GB; 1M records per "
        "file) this way, and narrower windows did not get under it, or the failure is on "
        "Qualtrics' side: retry later, or export fewer fields (Question IDs, Embedded data)",
    )


def as_export_failure(survey_id: str, error: QualtricsApiError, step: str) -> ExportFailed:
    """A survey-level failure (a rejected credential never gets here: the client stops the sync)."""
    if error.status in (403, 404):
        hint = (
            "the survey no longer exists, or the token's user cannot see it"
            if error.status == 404
            else "the token's user lacks permission to export this survey's responses"
        )
        return ExportFailed(survey_id, f"{hint} ({error})", is_config_error=True)
    return ExportFailed(survey_id, f"{step} failed: {error}")
