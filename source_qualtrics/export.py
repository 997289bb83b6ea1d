"""The response-export pipeline: start -> poll progress -> download zip -> stream records.

Qualtrics has no list endpoint for responses; every response arrives through an asynchronous export
job. The server-side wait dominates, so `ExportPipeline` keeps several jobs running ahead while the
caller parses one file at a time on its own thread (parsing is CPU-bound; threads would only
fight over the GIL). Files are spooled to disk and read as a stream, so memory stays flat whatever
the survey's size.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from source_qualtrics.client import QualtricsClient, TruncatedDownload
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError

logger = logging.getLogger("airbyte")

ZIP_MAGIC = b"PK\x03\x04"
SKIPPED_LINES = frozenset({b"", b"{}"})


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
    request: ExportRequest
    progress_id: str
    body: dict[str, Any]
    used_fallback: bool = False


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
            except MalformedExportLine as error:
                if refetched or self.refetch is None:
                    raise ExportFailed(
                        self.survey_id, f"{error.reason}, also after downloading the file again"
                    ) from None
                refetched = True
                logger.warning("Survey %s: %s; downloading the file again", self.survey_id, error.reason)
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
        return ExportJob(request=request, progress_id=progress_id, body=body, used_fallback=used_fallback)

    def wait(self, job: ExportJob) -> tuple[str, str | None]:
        """Poll with growing pauses until the job completes; return (fileId, continuationToken)."""
        survey_id = job.request.survey_id
        delay = self._timing.first_poll_delay
        began = self._clock()
        last_log = began
        while True:
            try:
                result = self._client.get_result(f"surveys/{survey_id}/export-responses/{job.progress_id}")
            except QualtricsApiError as error:
                if error.status == 404:
                    raise ExportJobLost(
                        survey_id, f"export {job.progress_id} is unknown to Qualtrics"
                    ) from None
                raise _as_export_failure(survey_id, error, "polling the export") from None
            status = result.get("status")
            if status == "complete":
                file_id = result.get("fileId")
                if not isinstance(file_id, str) or not file_id:
                    raise ExportJobLost(survey_id, "export completed without a fileId")
                token = result.get("continuationToken")
                return file_id, token if isinstance(token, str) and token else None
            if status == "failed":
                raise ExportJobLost(survey_id, f"Qualtrics reported export {job.progress_id} as failed")
            now = self._clock()
            if now - began > self._timing.max_wait_seconds:
                raise ExportFailed(
                    survey_id, f"export did not complete within {self._timing.max_wait_seconds:.0f} s"
                )
            if now - last_log >= self._timing.log_every_seconds:
                logger.info(
                    "Survey %s: export %.0f%% complete after %.0f s",
                    survey_id,
                    float(result.get("percentComplete") or 0.0),
                    now - began,
                )
                last_log = now
            self._sleep(delay)
            delay = min(self._timing.max_poll_delay, delay * self._timing.poll_growth)

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

    def run(self, job: ExportJob) -> ExportRun:
        """Wait for a started job, restarting it (bounded) when Qualtrics loses or fails it."""
        attempts = 1
        while True:
            try:
                file_id, token = self.wait(job)
                break
            except ExportJobLost as error:
                if attempts >= self._timing.job_attempts:
                    raise ExportFailed(
                        job.request.survey_id, f"{error.reason} (after {attempts} attempts)"
                    ) from None
                attempts += 1
                logger.warning(
                    "Survey %s: %s; starting the export again", job.request.survey_id, error.reason
                )
                try:
                    job = self._post(job.request, job.body, used_fallback=job.used_fallback)
                except QualtricsApiError as api_error:
                    raise _as_export_failure(
                        job.request.survey_id, api_error, "restarting the export"
                    ) from None
        survey_id = job.request.survey_id
        path = self.download(survey_id, file_id)
        return ExportRun(
            survey_id, path, token, job.used_fallback, refetch=lambda: self.download(survey_id, file_id)
        )


class ExportPipeline:
    """Keeps up to `lookahead` exports running on the server while the caller consumes them in order."""

    def __init__(self, exporter: ResponseExporter, requests: Iterable[ExportRequest], lookahead: int) -> None:
        self._exporter = exporter
        self._pending: deque[ExportRequest] = deque(requests)
        self._started: deque[ExportJob | ExportFailed] = deque()
        self._lookahead = max(1, lookahead)

    def next_run(self, survey_id: str) -> ExportRun:
        """Return the finished export for `survey_id`, which must be the next one in order."""
        self._top_up()
        if not self._started:
            raise LookupError(f"no export was planned for survey {survey_id}")
        head = self._started.popleft()
        if isinstance(head, ExportFailed):
            self._top_up()
            raise head
        if head.request.survey_id != survey_id:
            raise LookupError(f"exports out of order: expected {head.request.survey_id}, got {survey_id}")
        try:
            return self._exporter.run(head)
        finally:
            self._top_up()  # the head's server-side job is over: let the next one start while we parse

    def _top_up(self) -> None:
        while self._pending and len(self._started) < self._lookahead:
            request = self._pending.popleft()
            try:
                self._started.append(self._exporter.start(request))
            except ExportFailed as failure:
                self._started.append(failure)


class ExportJobLost(Exception):
    """The job failed or vanished on the server; starting it again usually works."""

    def __init__(self, survey_id: str, reason: str) -> None:
        self.survey_id = survey_id
        self.reason = reason
        super().__init__(reason)


class MalformedExportLine(ExportFailed):
    """A line of the export is not a JSON object: worth one fresh download before giving up."""


class CorruptExport(Exception):
    """The downloaded file is not a readable zip (bad CRC, truncated central directory)."""


def verify_export_file(path: Path) -> None:
    """Read every zip member once so a bad CRC is found before any record is emitted."""
    with path.open("rb") as handle:
        if handle.read(4) != ZIP_MAGIC:
            return  # an uncompressed export: nothing to verify beyond the length check
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise CorruptExport(f"the zip file is damaged ({error})") from None
    if bad_member is not None:
        raise CorruptExport(f"member {bad_member!r} fails its CRC check")


def iter_export_file(path: Path, survey_id: str) -> Iterator[dict[str, Any]]:
    """Yield each NDJSON record of a zipped or raw export, skipping blank and `{}` lines."""
    with path.open("rb") as handle:
        compressed = handle.read(4) == ZIP_MAGIC
    if not compressed:
        with path.open("rb") as raw:
            yield from _iter_lines(raw, survey_id, path.name)
        return
    with zipfile.ZipFile(path) as archive:
        for member in sorted(archive.infolist(), key=lambda info: info.filename):
            if member.is_dir():
                continue
            with archive.open(member) as stream:
                yield from _iter_lines(stream, survey_id, member.filename)


def _iter_lines(stream: IO[bytes], survey_id: str, source: str) -> Iterator[dict[str, Any]]:
    loads = orjson.loads
    for number, line in enumerate(_split_lines(stream), start=1):
        stripped = line.strip()
        if stripped in SKIPPED_LINES:
            continue
        try:
            record = loads(stripped)
        except orjson.JSONDecodeError:
            raise MalformedExportLine(survey_id, f"line {number} of {source} is not valid JSON") from None
        if not isinstance(record, dict):
            raise MalformedExportLine(survey_id, f"line {number} of {source} is not a JSON object")
        yield record


READ_CHUNK = 1 << 20


def _split_lines(stream: IO[bytes], chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """The stream's lines (split on b"\\n", like iterating a binary file), read in large chunks.

    Iterating a zip member line by line refills its buffer a few KB at a time in Python code; one large
    read inflates (and CRC-checks) a megabyte at once and `bytes.split` cuts it in C.
    """
    tail = b""
    while chunk := stream.read(chunk_size):
        lines = (tail + chunk if tail else chunk).split(b"\n")
        tail = lines.pop()
        yield from lines
    if tail:
        yield tail


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
