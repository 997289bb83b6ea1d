"""The response-export pipeline: start -> poll progress -> download -> hand over the file's records.

Qualtrics has no list endpoint for responses; every response arrives through an asynchronous export
job. The server-side wait dominates, so `ExportPipeline` keeps several jobs running ahead while the
caller parses one file at a time. Files are spooled to disk and read as a stream (`export_file.py`),
so memory stays flat whatever the survey's size.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from source_qualtrics.client import QualtricsClient, TruncatedDownload
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export_file import (
    CorruptExport,
    MalformedExportLine,
    iter_export_file,
    verify_export_file,
)

logger = logging.getLogger("airbyte")


@dataclass(frozen=True)
class ExportTiming:
    """Polling cadence and patience; small values make tests fast, defaults suit the real API."""

    first_poll_delay: float = 0.5
    max_poll_delay: float = 15.0
    poll_growth: float = 1.5
    max_wait_seconds: float = 6 * 3600.0
    log_every_seconds: float = 30.0
    job_attempts: int = 3
    download_attempts: int = 3


@dataclass(frozen=True)
class ExportRequest:
    """One survey's export, with the body to fall back to if Qualtrics refuses its continuation token."""

    survey_id: str
    body: dict[str, Any]
    fallback_body: dict[str, Any] | None = None


@dataclass
class ExportJob:
    """One survey's export on the server; `file_id` is set once Qualtrics reports it complete."""

    request: ExportRequest
    progress_id: str
    body: dict[str, Any]
    used_fallback: bool = False
    began: float = 0.0
    attempts: int = 1
    file_id: str | None = None
    continuation_token: str | None = None
    last_log: float = 0.0

    @property
    def survey_id(self) -> str:
        return self.request.survey_id


@dataclass
class ExportRun:
    """A finished export whose records can be streamed once; `continuation_token` is for the next sync."""

    survey_id: str
    path: Path
    continuation_token: str | None
    used_fallback: bool
    refetch: Callable[[], Path] | None = None

    def records(self) -> Iterator[dict[str, Any]]:
        """Stream the records; a malformed line costs one fresh download, resumed past what was emitted."""
        emitted = 0
        refetched = False
        while True:
            records: Iterator[dict[str, Any]] = iter_export_file(self.path, self.survey_id)
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
                if refetched or self.refetch is None:
                    again = f"{reason}, also after downloading the file again"
                    raise ExportFailed(self.survey_id, again) from None
                refetched = True
                logger.warning("Survey %s: %s; downloading the file again", self.survey_id, reason)
                self.path.unlink(missing_ok=True)
                self.path = self.refetch()


class ResponseExporter:
    """The four HTTP steps of one export, with Qualtrics' quirks handled."""

    def __init__(
        self,
        client: QualtricsClient,
        spool_dir: Path,
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._spool_dir = spool_dir
        self._timing = timing or ExportTiming()
        self._sleep = sleep
        self._clock = clock

    @property
    def timing(self) -> ExportTiming:
        return self._timing

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def start(self, request: ExportRequest) -> ExportJob:
        """POST the export; a refused continuation token falls back to the date window."""
        try:
            return self._post(request, request.body, used_fallback=False)
        except QualtricsApiError as error:
            refused = error.status in (400, 404, 410)
            if refused and "continuationToken" in request.body and request.fallback_body:
                logger.warning(
                    "Survey %s: Qualtrics refused the stored continuation token (%s); "
                    "falling back to a date window from the last synced timestamp.",
                    request.survey_id,
                    error.api_message,
                )
                return self._post(request, request.fallback_body, used_fallback=True)
            raise _as_export_failure(request.survey_id, error, "starting the export") from None

    def _post(self, request: ExportRequest, body: dict[str, Any], *, used_fallback: bool) -> ExportJob:
        result = self._client.post_result(f"surveys/{request.survey_id}/export-responses", body)
        progress_id = result.get("progressId")
        if not isinstance(progress_id, str) or not progress_id:
            raise ExportFailed(request.survey_id, "Qualtrics started an export but returned no progressId")
        logger.info("Survey %s: export %s started", request.survey_id, progress_id)
        now = self._clock()
        return ExportJob(request, progress_id, body, used_fallback, began=now, last_log=now)

    def poll(self, job: ExportJob) -> bool:
        """Ask once how the job is doing; True when its file is ready. A lost or failed job is
        started again (bounded); one that cannot be saved raises ExportFailed."""
        survey_id = job.survey_id
        try:
            result = self._client.get_result(f"surveys/{survey_id}/export-responses/{job.progress_id}")
        except QualtricsApiError as error:
            if error.status != 404:
                raise _as_export_failure(survey_id, error, "polling the export") from None
            self._restart(job, f"export {job.progress_id} is unknown to Qualtrics")
            return False
        status = result.get("status")
        if status == "complete":
            file_id, token = result.get("fileId"), result.get("continuationToken")
            if not isinstance(file_id, str) or not file_id:
                self._restart(job, "export completed without a fileId")
                return False
            job.file_id = file_id
            job.continuation_token = token if isinstance(token, str) and token else None
            logger.info("Survey %s: export complete after %.1f s", survey_id, self._clock() - job.began)
            return True
        if status == "failed":
            self._restart(job, f"Qualtrics reported export {job.progress_id} as failed")
            return False
        now = self._clock()
        if now - job.began > self._timing.max_wait_seconds:
            raise ExportFailed(
                survey_id, f"export did not complete within {self._timing.max_wait_seconds:.0f} s"
            )
        if now - job.last_log >= self._timing.log_every_seconds:
            percent = float(result.get("percentComplete") or 0.0)
            logger.info("Survey %s: export %.0f%% complete after %.0f s", survey_id, percent, now - job.began)
            job.last_log = now
        return False

    def _restart(self, job: ExportJob, reason: str) -> None:
        if job.attempts >= self._timing.job_attempts:
            raise ExportFailed(job.survey_id, f"{reason} (after {job.attempts} attempts)")
        logger.warning("Survey %s: %s; starting the export again", job.survey_id, reason)
        try:
            fresh = self._post(job.request, job.body, used_fallback=job.used_fallback)
        except QualtricsApiError as error:
            raise _as_export_failure(job.survey_id, error, "restarting the export") from None
        job.progress_id, job.began, job.last_log = fresh.progress_id, fresh.began, fresh.began
        job.attempts += 1

    def finish(self, job: ExportJob) -> ExportRun:
        """Download a completed job's file; the run can fetch it again if a line turns out malformed."""
        survey_id, file_id = job.survey_id, job.file_id
        if file_id is None:
            raise ExportFailed(survey_id, "finish() called before the export completed")
        path = self.download(survey_id, file_id)
        return ExportRun(
            survey_id,
            path,
            job.continuation_token,
            job.used_fallback,
            refetch=lambda: self.download(survey_id, file_id),
        )

    def download(self, survey_id: str, file_id: str) -> Path:
        """Spool the file to disk and prove it is whole (length, zip CRCs) before anything is parsed."""
        last_error = ""
        for attempt in range(1, self._timing.download_attempts + 1):
            handle, name = tempfile.mkstemp(prefix=f"{survey_id}-", suffix=".export", dir=self._spool_dir)
            path = Path(name)
            try:
                began = self._clock()
                with os.fdopen(handle, "wb") as sink:
                    size = self._client.download(f"surveys/{survey_id}/export-responses/{file_id}/file", sink)
                logger.info(
                    "Survey %s: downloaded %.1f MB in %.1f s", survey_id, size / 1e6, self._clock() - began
                )
                verify_export_file(path)
                return path
            except (TruncatedDownload, CorruptExport, QualtricsConnectionError) as error:
                path.unlink(missing_ok=True)
                last_error = str(error)
                logger.warning("Survey %s: download attempt %d failed: %s", survey_id, attempt, error)
            except QualtricsApiError as error:
                path.unlink(missing_ok=True)
                raise _as_export_failure(survey_id, error, "downloading the export") from None
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        raise ExportFailed(survey_id, f"the export file could not be downloaded whole ({last_error})")


class ExportPipeline:
    """Keeps up to `concurrency` exports *running* on the server while the caller consumes them in order.

    While it waits for the survey the caller needs next, it polls the other running exports too, so a
    job that completes early frees its slot for the next survey's export at once (its file waits on
    the server, where it stays for a week, until its turn to be downloaded and parsed).
    """

    def __init__(
        self,
        exporter: ResponseExporter,
        requests: Iterable[ExportRequest],
        concurrency: int,
    ) -> None:
        self._exporter = exporter
        self._pending: deque[ExportRequest] = deque(requests)
        self._queue: deque[ExportJob | ExportFailed] = deque()
        self._concurrency = max(1, concurrency)

    def next_run(self, survey_id: str) -> ExportRun:
        """Return the finished export for `survey_id`, which must be the next one in order."""
        self._top_up()
        if not self._queue:
            raise LookupError(f"no export was planned for survey {survey_id}")
        head = self._queue[0]
        if not isinstance(head, ExportFailed) and head.survey_id != survey_id:
            raise LookupError(f"exports out of order: expected {head.survey_id}, got {survey_id}")
        try:
            self._wait_for(head)
        finally:
            self._queue.popleft()
            self._top_up()
        assert isinstance(head, ExportJob)
        return self._exporter.finish(head)

    def _wait_for(self, head: ExportJob | ExportFailed) -> None:
        if isinstance(head, ExportFailed):
            raise head
        timing = self._exporter.timing
        delay = timing.first_poll_delay
        while head.file_id is None and not self._exporter.poll(head):
            self._poll_others()
            self._top_up()
            self._exporter.sleep(delay)
            delay = min(timing.max_poll_delay, delay * timing.poll_growth)

    def _poll_others(self) -> None:
        for index in range(1, len(self._queue)):
            job = self._queue[index]
            if isinstance(job, ExportJob) and job.file_id is None:
                try:
                    self._exporter.poll(job)
                except ExportFailed as failure:
                    self._queue[index] = failure

    def _running(self) -> int:
        return sum(1 for job in self._queue if isinstance(job, ExportJob) and job.file_id is None)

    def _top_up(self) -> None:
        while self._pending and self._running() < self._concurrency:
            request = self._pending.popleft()
            try:
                self._queue.append(self._exporter.start(request))
            except ExportFailed as failure:
                self._queue.append(failure)


def make_spool_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="source-qualtrics-"))


def remove_spool_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _as_export_failure(survey_id: str, error: QualtricsApiError, step: str) -> ExportFailed:
    if error.status in (403, 404):
        hint = (
            "the survey does not exist or the token's user cannot export it"
            if error.status == 404
            else "the token's user lacks permission to export this survey's responses"
        )
        return ExportFailed(survey_id, f"{hint} ({error})", is_config_error=True)
    return ExportFailed(survey_id, f"{step} failed: {error}")
