"""Response export jobs: body validation, continuation tokens, background file building.

Files are streamed to a temp directory (records are generated and written in batches, never all held in
memory) and identical requests against unchanged data reuse the built file.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import queue
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from .config import SimulatorConfig
from .data import (
    EMBEDDED_FIELDS,
    META_KEYS,
    OPTIONAL_META_KEYS,
    KeyFilter,
    RecordFactory,
    extra_questions_for,
    question_ids,
)
from .errors import BAD_CONTINUATION_TOKEN, EXPORT_NOT_FOUND, ApiError, bad_request
from .faults import Faults
from .ids import progress_id
from .store import Row, Snapshot, Store

KNOWN_OPTIONS = frozenset(
    {
        "format",
        "compress",
        "startDate",
        "endDate",
        "limit",
        "exportResponsesInProgress",
        "filterId",
        "useLabels",
        "includeLabelColumns",
        "includeDisplayOrder",
        "breakoutSets",
        "seenUnansweredRecode",
        "multiselectSeenUnansweredRecode",
        "formatDecimalAsComma",
        "timeZone",
        "newlineReplacement",
        "questionIds",
        "embeddedDataIds",
        "surveyMetadataIds",
        "allowContinuation",
        "continuationToken",
        "sortByLastModifiedDate",
    }
)
JSON_FORBIDDEN = (
    "includeDisplayOrder",
    "useLabels",
    "formatDecimalAsComma",
    "seenUnansweredRecode",
    "multiselectSeenUnansweredRecode",
    "timeZone",
    "newlineReplacement",
    "breakoutSets",
)
ALL_FORMATS = ("csv", "tsv", "json", "ndjson", "spss", "xml")
SUPPORTED_FORMATS = ("json", "ndjson")
BLANK_EVERY = 97
BATCH = 2000
# Files built at once. Building is CPU-bound (GIL), so more threads only add memory: 10,000 exports
# started in a burst queue here instead of becoming 10,000 threads.
BUILD_WORKERS = 4


@dataclass(frozen=True)
class ExportOptions:
    fmt: str
    compress: bool
    start_ms: int | None
    end_ms: int | None
    limit: int | None
    in_progress: bool
    key_filter: KeyFilter
    allow_continuation: bool
    since_seq: int | None
    sort_by_modified: bool


def parse_date(name: str, value: Any) -> int:
    if not isinstance(value, str):
        raise bad_request(f"Invalid value for '{name}': expected an ISO-8601 date-time string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': '{value}' is not an ISO-8601 date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad_request(f"Invalid value for '{name}': expected a boolean.")
    return value


def _ids(body: dict[str, Any], name: str, valid: tuple[str, ...]) -> tuple[str, ...] | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"Invalid value for '{name}': expected an array of strings.")
    unknown = [v for v in value if v not in valid]
    if unknown:
        raise bad_request(f"Invalid value for '{name}': unknown ids {', '.join(unknown)}.")
    return tuple(value)


class TokenCodec:
    """Opaque, signed continuation tokens carrying (survey id, mutation seq, issue time)."""

    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"qualtrics-sim-token|{seed}".encode()).digest()

    def _sign(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()[:12]).decode()

    def issue(self, survey: str, seq: int) -> str:
        payload = orjson.dumps({"s": survey, "q": seq, "t": time.time()})
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def parse(self, token: Any, survey: str, max_age: float) -> int:
        invalid = ApiError(400, BAD_CONTINUATION_TOKEN, "The continuationToken is invalid or has expired.")
        if not isinstance(token, str) or token.count(".") != 1:
            raise invalid
        encoded, signature = token.split(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            data = orjson.loads(payload)
        except (ValueError, orjson.JSONDecodeError):
            raise invalid from None
        if not hmac.compare_digest(signature, self._sign(payload)) or not isinstance(data, dict):
            raise invalid
        if data.get("s") != survey or time.time() - float(data.get("t", 0)) > max_age:
            raise invalid
        return int(data["q"])


def parse_options(body: Any, survey: str, tokens: TokenCodec, config: SimulatorConfig) -> ExportOptions:
    """Validate a start-export body the way Qualtrics does (case-sensitive names, JSON restrictions)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    unknown = sorted(set(body) - KNOWN_OPTIONS)
    if unknown:
        raise bad_request(
            f"Unrecognized parameter(s): {', '.join(unknown)}. Parameter names are case-sensitive."
        )
    fmt = body.get("format")
    if fmt is None:
        raise bad_request("Missing required parameter 'format'.")
    if fmt not in ALL_FORMATS:
        raise bad_request(f"Invalid value for 'format': '{fmt}'. Expected one of {', '.join(ALL_FORMATS)}.")
    if fmt not in SUPPORTED_FORMATS:
        raise bad_request(f"Format '{fmt}' is not supported by the simulator; use json or ndjson.")
    forbidden = [name for name in JSON_FORBIDDEN if name in body]
    if forbidden:
        raise bad_request(f"Parameter(s) {', '.join(forbidden)} cannot be used with format '{fmt}'.")
    allow = _bool(body, "allowContinuation", False)
    token = body.get("continuationToken")
    sort_by_modified = _bool(body, "sortByLastModifiedDate", False)
    if token is not None and allow:
        raise bad_request("continuationToken and allowContinuation cannot be used together.")
    if "filterId" in body:
        if allow or token is not None:
            raise bad_request("filterId cannot be used with allowContinuation or continuationToken.")
        if sort_by_modified:
            raise bad_request("filterId cannot be used with sortByLastModifiedDate.")
        raise bad_request(f"Invalid value for 'filterId': filter '{body['filterId']}' was not found.")
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise bad_request("Invalid value for 'limit': expected a positive integer.")
    start_ms = parse_date("startDate", body["startDate"]) if "startDate" in body else None
    end_ms = parse_date("endDate", body["endDate"]) if "endDate" in body else None
    key_filter = KeyFilter(
        metadata=_ids(body, "surveyMetadataIds", META_KEYS + OPTIONAL_META_KEYS),
        questions=_ids(
            body, "questionIds", question_ids(extra_questions_for(config.values_per_response or 0))
        ),
        embedded=_ids(body, "embeddedDataIds", EMBEDDED_FIELDS),
    )
    since = tokens.parse(token, survey, config.token_max_age_seconds) if token is not None else None
    return ExportOptions(
        fmt=fmt,
        compress=_bool(body, "compress", True),
        start_ms=start_ms,
        end_ms=end_ms,
        limit=limit,
        in_progress=_bool(body, "exportResponsesInProgress", False),
        key_filter=key_filter,
        allow_continuation=allow or token is not None,
        since_seq=since,
        sort_by_modified=sort_by_modified,
    )


@dataclass(frozen=True)
class FileLimits:
    """What shapes a built file besides the request: size caps, records per zip member, stray lines."""

    record_cap: int | None
    byte_cap: int | None
    records_per_file: int
    blank_lines: bool

    @classmethod
    def of(cls, config: SimulatorConfig) -> FileLimits:
        return cls(
            config.export_record_cap, config.export_byte_cap, config.records_per_file, config.blank_lines
        )


class ExportTooLarge(Exception):
    """The selected responses exceed export_record_cap or export_byte_cap."""


@dataclass
class BuiltFile:
    """A file being (or already) built; shared by jobs that hit the cache."""

    path: Path
    name: str
    compress: bool
    fmt: str
    estimate: int = 1
    written: int = 0
    members: list[str] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def member(self) -> str:
        """The first (often only) zip member, `{survey name}.{format}`."""
        return f"{self.name}.{self.fmt}"

    def member_name(self, number: int) -> str:
        """Member `number` (0-based) of the zip: `{name}.{fmt}`, then `{name}_1.{fmt}`, `{name}_2.{fmt}`..."""
        return self.member if number == 0 else f"{self.name}_{number}.{self.fmt}"

    @property
    def content_type(self) -> str:
        if self.compress:
            return "application/zip"
        return "application/x-ndjson" if self.fmt == "ndjson" else "application/json"

    def crc_offsets(self) -> list[int]:
        """Byte offsets of the first member's CRC-32 in the local header and central directory."""
        with zipfile.ZipFile(self.path) as zf:
            info = zf.infolist()[0]
            start_dir = int(getattr(zf, "start_dir", 0))
        return [info.header_offset + 14, start_dir + 16]


@dataclass
class ExportJob:
    progress_id: str
    survey_id: str
    file_id: str
    started: float
    duration: float
    fail: bool
    file: BuiltFile
    continuation_token: str | None

    def result(self) -> dict[str, Any]:
        """Progress payload: `fileId` only appears once complete (null when failed), as in real traffic."""
        elapsed = time.monotonic() - self.started
        time_fraction = 1.0 if self.duration <= 0 else min(1.0, elapsed / self.duration)
        if self.fail or self.file.error is not None:
            if time_fraction >= 1.0:
                return {"fileId": None, "percentComplete": 100.0, "status": "failed"}
            return {"percentComplete": round(time_fraction * 99.0, 2), "status": "inProgress"}
        if self.file.done.is_set() and time_fraction >= 1.0:
            result: dict[str, Any] = {"fileId": self.file_id, "percentComplete": 100.0, "status": "complete"}
            if self.continuation_token is not None:
                result["continuationToken"] = self.continuation_token
            return result
        build_fraction = 1.0 if self.file.done.is_set() else self.file.written / max(1, self.file.estimate)
        return {
            "percentComplete": round(min(time_fraction, build_fraction) * 99.0, 2),
            "status": "inProgress",
        }


def _rows(snap: Snapshot, opts: ExportOptions) -> tuple[Iterator[Row], int]:
    """The selected rows in export order, and an upper bound of their count (exact without deletes)."""
    if opts.in_progress:
        rows: Iterator[Row] = snap.in_progress_rows(opts.start_ms, opts.end_ms)
        estimate = snap.in_progress
    else:
        rows, estimate = snap.select(opts.start_ms, opts.end_ms, opts.since_seq, opts.sort_by_modified)
    if opts.limit is not None:
        rows, estimate = itertools.islice(rows, opts.limit), min(estimate, opts.limit)
    return rows, estimate


def _lines(snap: Snapshot, opts: ExportOptions, drop: int = 0) -> Iterator[tuple[int, bytes]]:
    """(index, record bytes) in export order, honouring the limit, without the first `drop` rows."""
    factory = RecordFactory(snap.info, opts.key_filter, opts.sort_by_modified)
    encode = snap.codec.encode
    for index, row in enumerate(itertools.islice(_rows(snap, opts)[0], drop, None)):
        record = factory.record(
            encode(row.slot),
            row.slot,
            row.recorded_ms,
            row.version,
            row.modified_ms,
            in_progress=opts.in_progress,
        )
        yield index, record


class _SizeGuard:
    """Counts records and uncompressed bytes and raises ExportTooLarge past a cap."""

    def __init__(self, limits: FileLimits) -> None:
        self.limits = limits
        self.records = 0
        self.bytes = 0

    def record(self) -> None:
        self.records += 1
        cap = self.limits.record_cap
        if cap is not None and self.records > cap:
            raise ExportTooLarge(f"more than {cap} records selected")

    def wrote(self, size: int) -> None:
        self.bytes += size
        cap = self.limits.byte_cap
        if cap is not None and self.bytes > cap:
            raise ExportTooLarge(f"more than {cap} uncompressed bytes")


def _write_member(
    out: IO[bytes],
    lines: Iterable[tuple[int, bytes]],
    opts: ExportOptions,
    built: BuiltFile,
    guard: _SizeGuard,
    stop: threading.Event,
    blank_offset: int,
) -> None:
    """One file's records in batches; NDJSON gets stray blank and `{}` lines like real exports."""
    ndjson = opts.fmt == "ndjson"
    blank_lines = guard.limits.blank_lines
    batch: list[bytes] = [] if ndjson else [b'{"responses":[']
    first = True

    def flush() -> None:
        data = b"\n".join(batch) + b"\n" if ndjson else b"".join(batch)
        guard.wrote(len(data))
        out.write(data)
        batch.clear()

    for index, record in lines:
        guard.record()
        if ndjson:
            batch.append(record)
            if blank_lines and (index + blank_offset) % BLANK_EVERY == BLANK_EVERY - 1:
                batch.append(b"" if (index // BLANK_EVERY) % 2 == 0 else b"{}")
        else:
            batch.append(record if first else b"," + record)
            first = False
        if len(batch) >= BATCH:
            flush()
            built.written = index + 1
            if stop.is_set():
                raise RuntimeError("simulator shutting down")
    if not ndjson:
        batch.append(b"]}")
    if batch:
        flush()


def build_file(
    snap: Snapshot,
    opts: ExportOptions,
    built: BuiltFile,
    limits: FileLimits,
    stop: threading.Event,
    drop: int = 0,
) -> None:
    """Stream records into the file; a zip gets a new member every `records_per_file` records."""
    guard = _SizeGuard(limits)
    offset = snap.info.seed % BLANK_EVERY
    try:
        with open(built.path, "wb") as raw:
            if not opts.compress:
                _write_member(raw, _lines(snap, opts, drop), opts, built, guard, stop, offset)
                return
            per_file = limits.records_per_file
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                lines = _lines(snap, opts, drop)
                groups = itertools.groupby(lines, key=lambda line: line[0] // per_file)
                for number, lines in groups:
                    name = built.member_name(number)
                    with archive.open(name, "w", force_zip64=True) as out:
                        _write_member(out, lines, opts, built, guard, stop, offset)
                    built.members.append(name)
                if not built.members:  # nothing selected: still one (empty) file
                    with archive.open(built.member, "w", force_zip64=True) as out:
                        _write_member(out, (), opts, built, guard, stop, offset)
                    built.members.append(built.member)
    except Exception as exc:  # surfaced to the client as status "failed"
        built.error = f"{type(exc).__name__}: {exc}"
    finally:
        built.done.set()


class BuildQueue:
    """At most `workers` daemon threads building files, started on demand; the rest wait in a queue.

    Daemon threads (not a ThreadPoolExecutor, whose workers the interpreter joins at exit) so a
    simulator that is never closed still exits mid-build, as it did with a thread per build; a worker
    idle for IDLE_SECONDS ends, so simulators that tests create and drop leave no threads behind.
    Builds still queued at `close()` see its stop event (or their deleted directory) and end "failed".
    """

    IDLE_SECONDS = 2.0

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads = 0
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads

    def submit(self, build: Callable[[], None]) -> None:
        self._queue.put(build)
        with self._lock:
            if self._threads < self._workers:
                self._threads += 1
                threading.Thread(target=self._work, name="export-build", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                build = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # submit() puts before it counts threads: nothing is stranded
                    if self._queue.empty():
                        self._threads -= 1
                        return
                continue
            build()


class ExportManager:
    """Owns export jobs, built files and their temp directory."""

    def __init__(self, store: Store, faults: Faults, config: SimulatorConfig) -> None:
        self.store = store
        self.faults = faults
        self.config = config
        self.tokens = TokenCodec(config.seed)
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}
        self._files: dict[str, ExportJob] = {}
        self._cache: dict[tuple[Any, ...], BuiltFile] = {}
        self._cache_seq = 0  # the mutation sequence number the cached files were built at
        self._counter = 0
        self._tmpdir: Path | None = None
        self._stop = threading.Event()
        self._builders = BuildQueue(BUILD_WORKERS)

    def _dir(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="qualtrics-sim-"))
        return self._tmpdir

    def _duration(self, survey: str, estimate: int) -> float:
        """Seconds until the export completes: per-survey (or global) time plus a per-record rate."""
        base = self.config.export_seconds_by_survey.get(survey, self.config.export_seconds)
        return base + self.config.export_seconds_per_1000_records * estimate / 1000

    def start(self, survey: str, body: Any) -> dict[str, Any]:
        snap = self.store.snapshot(survey)
        refusal = self.faults.export_refusal(survey)
        if refusal is not None:
            raise refusal
        opts = parse_options(body, survey, self.tokens, self.config)
        estimate = _rows(snap, opts)[1]
        fail = self.faults.take("fail_exports")
        drop = 0 if opts.in_progress or fail else self.faults.take_drop(survey)
        limits = FileLimits.of(self.config)
        canonical = {k: v for k, v in body.items() if k not in ("allowContinuation", "continuationToken")}
        # A str: orjson's bytes keep ~2 KB of spare capacity each, 20 MB over 10,000 exports.
        body_key = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS).decode()
        key = (survey, snap.seq, opts.since_seq, limits, body_key)
        with self._lock:
            self._counter += 1
            pid = progress_id(self.config.seed, self._counter)
            if snap.seq > self._cache_seq:  # any mutation changes every key: older entries never hit
                self._cache.clear()
                self._cache_seq = snap.seq
            built = None if fail or drop else self._cache.get(key)
            if built is None or built.error is not None:
                name = snap.info.name.replace("/", "_")
                built = BuiltFile(self._dir() / f"{pid}.bin", name, opts.compress, opts.fmt, estimate)
                if not fail:
                    if snap.seq == self._cache_seq and not drop:
                        self._cache[key] = built
                    build = functools.partial(build_file, snap, opts, built, limits, self._stop, drop)
                    self._builders.submit(build)
            token = self.tokens.issue(survey, snap.seq) if opts.allow_continuation else None
            job = ExportJob(
                pid,
                survey,
                f"{uuid.uuid4()}-def",
                time.monotonic(),
                self._duration(survey, estimate),
                fail,
                built,
                token,
            )
            self._jobs[pid] = job
            self._files[job.file_id] = job
        return {"progressId": pid, "percentComplete": 0.0, "status": "inProgress"}

    def build_threads(self) -> int:
        """Threads building files now (at most BUILD_WORKERS)."""
        return self._builders.threads

    def progress(self, survey: str, pid: str) -> dict[str, Any]:
        self.store.survey(survey)
        job = self._jobs.get(pid)
        if job is None or job.survey_id != survey:
            raise ApiError(404, EXPORT_NOT_FOUND, f"Export progress '{pid}' was not found.")
        return job.result()

    def file(self, survey: str, file_id: str) -> BuiltFile:
        self.store.survey(survey)
        job = self._files.get(file_id)
        if job is None or job.survey_id != survey or job.result()["status"] != "complete":
            raise ApiError(404, EXPORT_NOT_FOUND, f"Export file '{file_id}' was not found.")
        return job.file

    def close(self) -> None:
        """Stop builders and delete every temp file."""
        self._stop.set()
        self._stop = threading.Event()
        with self._lock:
            self._cache.clear()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None
