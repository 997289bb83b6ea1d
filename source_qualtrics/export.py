"""Qualtrics' response export, job by job: start -> poll progress -> download -> the file's records.

Qualtrics has no list endpoint for responses; every response arrives through an asynchronous export
job, and the server-side wait dominates a sync. `ExportScheduler` keeps up to K jobs running and hands
back each file as soon as it is ready, in completion order, so one slow export holds back nothing.
Its unit of work is one export of one survey over one window of time (`ExportTask`); a failure stays
with its survey, and a window Qualtrics cannot export whole is split. Files are spooled to disk and
read as a stream (`export_file.py`), so memory stays flat whatever the survey's size.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class ExportScheduler:
    """Runs tasks with up to `concurrency` exports on the server; yields each file when it is ready.

    Tasks are planned lazily: `plan` is consumed while the scheduler would otherwise sleep between
    polls (planning a survey may read its details), so at 10,000 surveys the first exports start at
    once instead of after 10,000 reads. Among the planned tasks, urgent ones (the next chunk or the
    pieces of a survey already under way) start first, then the biggest by `size`.

    `split` says how to cut a task whose export Qualtrics reports as failed, given how many times it
    was tried (None: the same export is tried again, up to `job_attempts`). A survey's failure never
    touches another survey; `drop_survey` cancels what is left of a survey that failed.
    """

    def __init__(
        self,
        exporter: ResponseExporter,
        plan: Iterable[ExportTask],
        concurrency: int,
        cache: ExportCache,
        *,
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
        self._plan: Iterator[ExportTask] | None = iter(plan)
        self._pending: list[tuple[tuple[int, int, int], ExportTask]] = []  # a heap: urgent, biggest, order
        self._order = itertools.count()
        self._reused: deque[ExportReady] = deque()
        self._running: list[ExportJob] = []
        self._dropped: set[str] = set()
        self._last_log = exporter.clock()

    @property
    def planning_done(self) -> bool:
        return self._plan is None

    @property
    def exhausted(self) -> bool:
        """Nothing left to plan, start, wait for or hand back: the result just handed back was the last."""
        return self._plan is None and not (self._pending or self._running or self._reused)

    def add(self, task: ExportTask) -> None:
        """A task for a survey already under way (its next chunk): it starts before any new survey."""
        heapq.heappush(self._pending, ((0, 0, next(self._order)), task))

    def drop_survey(self, survey_id: str) -> None:
        self._dropped.add(survey_id)
        self._running = [job for job in self._running if job.task.survey_id != survey_id]

    def results(self) -> Iterator[ExportReady | SurveyFailure]:
        """Files (and failures) in the order their exports finish."""
        while True:
            if self._reused:
                ready = self._reused.popleft()
                if ready.task.survey_id not in self._dropped:
                    yield ready
                continue
            failure = self._top_up()
            if failure is not None:
                yield failure
                continue
            if not self._running:
                if self._pending or self._reused or self._plan_one():
                    continue
                return
            now = self.exporter.clock()
            due = [job for job in self._running if job.next_poll <= now]
            if not due:
                wake = min(job.next_poll for job in self._running)
                if self._plan_until(wake):
                    continue
                self._log_waiting(now)
                self.exporter.sleep(max(0.0, wake - self.exporter.clock()))
                continue
            for job in due:
                if job.task.survey_id in self._dropped or job not in self._running:
                    continue
                outcome = self._advance(job)
                if outcome is not None:
                    yield outcome

    # -- planning -------------------------------------------------------------------------------------

    def _plan_one(self) -> bool:
        """Take the next task from the plan (a file this sync already holds is reused at once)."""
        if self._plan is None:
            return False
        task = next(self._plan, None)
        if task is None:
            self._plan = None
            return False
        if self.cache.holds_files():
            exported = self.cache.take(task.survey_id, task.body)
            if exported is not None:
                logger.info("Survey %s: reusing this sync's export of %s", task.survey_id, task.describe())
                self._reused.append(ExportReady(task, exported))
                return True
        heapq.heappush(self._pending, ((1, -self.size(task), next(self._order)), task))
        return True

    def _plan_until(self, wake: float) -> bool:
        """Plan ahead while the running exports need no poll; True if it planned anything."""
        planned = False
        while self._plan is not None and self.exporter.clock() < wake:
            planned = self._plan_one() or planned
        return planned

    def _next_pending(self) -> ExportTask | None:
        while self._pending or self._plan_one():
            if self._reused:
                return None  # hand the reused file back first
            if not self._pending:
                continue
            _, task = heapq.heappop(self._pending)
            if task.survey_id not in self._dropped:
                return task
        return None

    def _top_up(self) -> SurveyFailure | None:
        while len(self._running) < self.concurrency:
            task = self._next_pending()
            if task is None:
                return None
            try:
                self._running.append(self.exporter.start(task))
            except ExportFailed as failure:
                return SurveyFailure(task, failure)
        return None

    # -- running exports ------------------------------------------------------------------------------

    def _advance(self, job: ExportJob) -> ExportReady | SurveyFailure | None:
        """Poll a due job; a finished one is downloaded and handed back, a failed one split or restarted."""
        task = job.task
        try:
            result = self.exporter.poll(job)
            status = result.get("status")
            if status == "complete":
                file_id = result.get("fileId")
                if isinstance(file_id, str) and file_id:
                    self._running.remove(job)
                    return self._download(job, file_id, result.get("continuationToken"))
                self.exporter.restart(job, "export completed without a fileId")
            elif status == "failed":
                self._failed(job)
            elif status == "lost":
                self.exporter.restart(job, f"export {job.progress_id} is unknown to Qualtrics")
            elif self.exporter.clock() - job.began > self.exporter.timing.max_wait_seconds:
                wait = self.exporter.timing.max_wait_seconds
                raise ExportFailed(task.survey_id, f"export did not complete within {wait:.0f} s")
        except ExportFailed as failure:
            if job in self._running:
                self._running.remove(job)
            return SurveyFailure(task, failure)
        return None

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
        self.exporter.restart(job, f"Qualtrics reported export {job.progress_id} as failed")

    def _download(self, job: ExportJob, file_id: str, token: Any) -> ExportReady | SurveyFailure:
        task = job.task
        took = self.exporter.clock() - job.began
        logger.info("Survey %s: export of %s complete after %.1f s", task.survey_id, task.describe(), took)
        try:
            path = self.exporter.download(task.survey_id, file_id)
        except ExportFailed as failure:
            return SurveyFailure(task, failure)
        continuation = token if isinstance(token, str) and token else None
        exported = self.cache.add(
            task.survey_id,
            task.body,
            path,
            continuation,
            used_fallback=job.used_fallback,
            refetch=lambda: self.exporter.download(task.survey_id, file_id),
        )
        return ExportReady(task, exported)

    def _log_waiting(self, now: float) -> None:
        if now - self._last_log < self.exporter.timing.log_every_seconds:
            return
        self._last_log = now
        running = ", ".join(
            f"{job.task.survey_id} {job.percent:.0f}% after {now - job.began:.0f} s" for job in self._running
        )
        logger.info("%s: waiting for %d export(s): %s", self.label, len(self._running), running)


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
