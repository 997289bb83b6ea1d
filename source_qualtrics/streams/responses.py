"""`responses`: every survey's responses through the export job, one partition per survey.

Incremental syncs ask Qualtrics for what changed since the last export of that survey (continuation
token with `sortByLastModifiedDate`: new *and* edited responses), or, when no usable token exists,
for a window from the newest last-modified timestamp seen. A survey's first sync is cut into windows
of last-modified time sized from its `responseCounts` (windows.py), oldest first or newest first,
with a checkpoint after each; the open-ended newest window carries `allowContinuation`. A window
Qualtrics fails to export is exported in keyset chunks of halving size until they succeed, each chunk
in the state as it finishes. A survey's cursor moves only after all records of an export were handed
to the platform, so an interrupted or failed export never loses data, and a crash repeats at most the
windows that were in flight.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import replace
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.completeness import CountsReading, SurveyExportReport, check_survey, warn_shortfall
from source_qualtrics.dates import NewestTimestamp, iso_millis, latest, now, parse_instant
from source_qualtrics.export import ExportTask
from source_qualtrics.fan_out import fan_out
from source_qualtrics.pacing import EXPORT_STARTS_PER_MINUTE
from source_qualtrics.streams.export_stream import SurveyExportStream
from source_qualtrics.streams.partitioned_state import damaged_state, dump_partitions, load_partitions
from source_qualtrics.streams.response_state import SurveyCursor
from source_qualtrics.windows import ChunkProgress, Window, plan_windows

logger = logging.getLogger("airbyte")

# Keys of `values` that describe the response rather than answer a question (Qualtrics' metadata set).
METADATA_KEYS = frozenset(
    {
        "startDate",
        "endDate",
        "status",
        "ipAddress",
        "progress",
        "duration",
        "finished",
        "recordedDate",
        "_recordId",
        "locationLatitude",
        "locationLongitude",
        "recipientLastName",
        "recipientFirstName",
        "recipientEmail",
        "externalReference",
        "externalDataReference",
        "distributionChannel",
        "userLanguage",
        "lastModifiedDate",
        "LastModifiedDate",
    }
)
# Metadata keys of `values` promoted to top-level columns (see `to_record`), by declared type.
PROMOTED_TEXT = ("recordedDate", "startDate", "endDate", "distributionChannel", "userLanguage")
PROMOTED_INT = ("status", "progress", "duration")
# With the skip option off, an incremental sync whose exports mostly come back empty says what the
# option would save once it has at least this many exports of already-synced surveys.
EMPTY_EXPORTS_WORTH_A_HINT = 20


class Responses(SurveyExportStream, IncrementalMixin):
    primary_key: str | list[str] = "responseId"
    cursor_field = "lastModifiedDate"
    #: whether this stream checks its exports against Qualtrics' counts (the streams that share its
    #: exports and cursors, `question_answers` and the typed per-survey streams, leave it to `responses`)
    checks_completeness = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: dict[str, SurveyCursor] = {}
        self._snapshot: dict[str, Any] = {}
        self._backfill: dict[str, list[Window]] = {}  # this sync's windows still to export, per survey
        self._counts: dict[str, dict[str, int]] = {}  # responseCounts read while planning, per survey
        self._newest: str | None = None
        self._chunk: ChunkProgress | None = None  # the chunk being read, if the export is one
        self._emitted = 0  # records of the export being read
        self._whole: set[str] = set()  # surveys exported from the start in this sync
        self._changes_exports = [0, 0]  # exports of already-synced surveys in this sync: all, empty
        self._before: dict[str, CountsReading] = {}  # counts read before the survey's exports, if checked
        self._emitted_by_survey: dict[str, int] = {}
        self._caught_up: set[str] = set()  # surveys whose newest changes were exported in this sync
        self._checked_whole: set[str] = set()  # first syncs in a single export, checked on their own
        self._previous_ceilings: dict[str, int] = {}  # from the saved state, per survey

    @property
    def name(self) -> str:
        return "responses"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._snapshot  # the CDK reads it after every record: built only at checkpoints

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        try:
            cursors = {sid: SurveyCursor.from_json(c) for sid, c in load_partitions(value, self.name).items()}
        except ValueError as error:
            raise damaged_state(self.name, str(error)) from None
        self._cursors = cursors
        self.checkpoint()

    def checkpoint(self) -> None:
        self._snapshot = dump_partitions({sid: c.to_json() for sid, c in self._cursors.items()})

    # -- which exports a survey needs -----------------------------------------------------------------

    def base_body(self) -> dict[str, Any]:
        body: dict[str, Any] = self._config.export_options.apply({"format": "ndjson", "compress": True})
        if not self._config.export_options.filter_id:
            # Qualtrics refuses last-modified sorting and continuation with a filter: recorded-date windows
            body["sortByLastModifiedDate"] = True
        return body

    def window_task(self, survey_id: str, window: Window, *, backfill: bool = False) -> ExportTask:
        """The export of one window; `backfill` (part of a big survey's export) asks for a checkpoint
        right after its records. A chunk has no continuation token: the next sync asks by date."""
        body = {**self.base_body(), **window.body_dates()}
        if window.limit is not None:
            body["limit"] = window.limit
        elif window.open_ended and not self._config.export_options.filter_id:
            body["allowContinuation"] = True
        return ExportTask(survey_id, body, window, backfill=backfill or window.limit is not None)

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        cursor = self._cursors.get(survey_id) if sync_mode == SyncMode.incremental else None
        if cursor is None or not cursor.started:
            windows = self._first_sync_windows(survey_id)
        else:
            if self._unchanged(survey_id, cursor):
                return []
            windows = list(cursor.backfill)
            changes = self._changes_task(survey_id, cursor)
            self._watch_counts(survey_id, cursor.counts_ceiling, whole=False)
            if changes is not None:
                self._backfill[survey_id] = windows
                return [changes, *self._in_order(survey_id, windows)]
        self._backfill[survey_id] = windows
        return self._in_order(survey_id, windows)

    def prefetch(self, survey_id: str, sync_mode: SyncMode) -> None:
        """A first sync sizes its windows from the survey's details, the skip option compares their
        counts and the completeness check starts from them: read them ahead (`SyncContext.details` is
        safe from any thread)."""
        cursor = self._cursors.get(survey_id) if sync_mode == SyncMode.incremental else None
        if cursor is None or not cursor.started or self._may_skip(cursor) or self._counts_checked:
            self._sync.details(survey_id)

    def _in_order(self, survey_id: str, windows: list[Window]) -> list[ExportTask]:
        ordered = sorted(
            windows, key=lambda w: (w.end is None, w.end or 0), reverse=self._config.newest_first
        )
        backfill = len(windows) > 1
        return [self.window_task(survey_id, window, backfill=backfill) for window in ordered]

    def expected_rows(self) -> int | None:
        """Responses of the surveys exported whole in this sync, by their `responseCounts`."""
        whole = [self._counts.get(survey_id, {}).get("auditable") for survey_id in self._whole]
        known = [count for count in whole if count is not None]
        return sum(known) if known else None

    def expected_size(self, survey_id: str) -> int:
        return self._counts.get(survey_id, {}).get("auditable", 0) if survey_id in self._whole else 0

    def _first_sync_windows(self, survey_id: str) -> list[Window]:
        """Windows sized from the survey's response count, so a big survey never tries one giant export."""
        self._whole.add(survey_id)
        counts = self._sync.response_counts(survey_id)
        if counts is not None:
            self._counts[survey_id] = counts
        start = self._config.start_date
        earliest = start or self._sync.created(survey_id)
        windows = plan_windows(
            earliest,
            (counts or {}).get("auditable"),
            self._config.responses_per_export,
            self._sync.started_at,
        )
        if len(windows) > 1:
            logger.info("Survey %s: first sync in %d windows of last-modified time", survey_id, len(windows))
        self._watch_counts(survey_id, None, whole=len(windows) == 1 and start is None)
        first = windows[0]
        windows[0] = Window(start, first.end)  # without a start date, nothing before the first window is lost
        return windows

    @property
    def _counts_checked(self) -> bool:
        """A saved filter exports a subset of the responses: nothing to check against the counts."""
        return self.checks_completeness and not self._config.export_options.filter_id

    def _watch_counts(self, survey_id: str, previous_ceiling: int | None, *, whole: bool) -> None:
        """Read the survey's counts before its exports start: the first bound of its completeness check
        (`whole`: one export of all its responses, checked on its own; else its changes are checked
        against the ceiling the previous check left)."""
        if not self._counts_checked:
            return
        before = self._sync.counts_reading(survey_id)
        if before is None:
            return
        self._before[survey_id] = before
        if whole:
            self._checked_whole.add(survey_id)
        if previous_ceiling is not None:
            self._previous_ceilings[survey_id] = previous_ceiling

    def _changes_task(self, survey_id: str, cursor: SurveyCursor) -> ExportTask | None:
        """What changed since the last sync: by continuation token, else a window from the newest one seen."""
        if any(window.open_ended for window in cursor.backfill):
            return None  # the open window is still to come: it asks for everything newer
        since = parse_instant(cursor.last_modified)
        start = since.start_of("second") if since else self._config.start_date
        fallback = self.window_task(survey_id, Window(start, None))
        token = cursor.usable_token(now()) if not self._config.export_options.filter_id else None
        if token:
            return ExportTask(survey_id, {**self.base_body(), "continuationToken": token}, None, fallback)
        if cursor.continuation_token:
            logger.warning(
                "Survey %s: the stored continuation token is older than Qualtrics keeps tokens; "
                "exporting responses modified since %s instead.",
                survey_id,
                fallback.describe(),
            )
        return fallback

    def _unchanged(self, survey_id: str, cursor: SurveyCursor) -> bool:
        """With the skip option: the counts are as at the last export, and the re-check is not due yet."""
        if not self._may_skip(cursor):
            return False
        counts = self._sync.response_counts(survey_id)
        if counts is None:
            return False
        self._counts[survey_id] = counts
        watched = ("auditable", "deleted")
        same = all(counts.get(key) == cursor.response_counts.get(key) for key in watched)
        exported = parse_instant(cursor.exported_at)
        hours = self._config.unchanged_survey_recheck_hours
        due = exported is None or (now() - exported).total_seconds() >= recheck_seconds(survey_id, hours)
        if same and not due:
            logger.info(
                "Survey %s: response counts unchanged since its last export (%s); skipped until its "
                "re-check for edits (every %d hours at most)",
                survey_id,
                cursor.exported_at,
                hours,
            )
            return True
        return False

    def _may_skip(self, cursor: SurveyCursor) -> bool:
        """Whether the skip option applies to this cursor at all (a survey mid-backfill is never skipped)."""
        return self._config.skip_unchanged_surveys and not cursor.backfill and bool(cursor.response_counts)

    def split(self, task: ExportTask, attempts: int) -> list[ExportTask] | None:
        """What to export instead of an export Qualtrics failed (None: the same export once more).

        A continuation export becomes its date window. A chunk is cut to half as many responses at
        once (each chunk that succeeds is progress); a whole window, after a second failure, is
        exported in chunks of half the responses it was expected to hold. Without last-modified
        sorting (a saved filter) a window is cut in halves of time instead.
        """
        survey_id, window = task.survey_id, task.window
        if window is None:
            return [task.fallback] if task.fallback is not None and attempts >= 2 else None
        if window.limit is not None:
            smaller = window.smaller_chunks()
            pieces = [smaller] if smaller is not None else None
        elif attempts < 2:
            return None  # a failure can be passing: one more try at the same export first
        elif self._config.export_options.filter_id:
            halves = window.halves(self._sync.started_at, self._sync.created(survey_id))
            pieces = list(halves) if halves is not None else None
        else:
            pieces = [window.in_chunks(self._first_chunk_size(survey_id))]
        if pieces is None:
            return None
        remaining = self._backfill.setdefault(survey_id, [])
        if window in remaining:
            at = remaining.index(window)
            remaining[at : at + 1] = pieces
        return [self.window_task(survey_id, piece, backfill=True) for piece in pieces]

    def _first_chunk_size(self, survey_id: str) -> int:
        """Half the responses a failed window could hold: the survey's count, at most one export's worth."""
        counts = self._counts.get(survey_id) or self._sync.response_counts(survey_id) or {}
        most = self._config.responses_per_export
        return max(1, min(counts.get("auditable") or most, most) // 2)

    # -- records, then the survey's cursor --------------------------------------------------------------

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        survey_id = task.survey_id
        newest = NewestTimestamp()
        self._newest, self._emitted = None, 0
        chunk = self._chunk = ChunkProgress(task.window) if task.window and task.window.limit else None
        shape = self.shape
        for raw in lines:
            record = shape(survey_id, raw)
            modified = record["lastModifiedDate"]
            newest.see(modified)
            if chunk is not None and not chunk.admit(record["responseId"], modified):
                continue  # the previous chunk emitted it
            self._emitted += 1
            yield record
        self._newest = newest.value

    def shape(self, survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The stream's record of one exported response (it must keep `responseId` and `lastModifiedDate`)."""
        return to_record(survey_id, raw)

    def export_done(self, task: ExportTask, continuation_token: str | None) -> None:
        """Every record of the export is out: move the survey's cursor past it (and start its next chunk)."""
        survey_id = task.survey_id
        previous = self._cursors.get(survey_id) or SurveyCursor()
        remaining = self._backfill.setdefault(survey_id, [])
        following = self._chunk.successor() if self._chunk is not None else None
        if task.window in remaining:
            at = remaining.index(task.window)
            remaining[at : at + 1] = [following] if following is not None else []
        if following is not None and self._scheduler is not None:
            self._scheduler.add(self.window_task(survey_id, following, backfill=True))
        changes = (task.window is None or task.window.open_ended) and following is None
        if task.window is None or (previous.started and not task.backfill):
            self._changes_exports[0] += 1
            self._changes_exports[1] += self._emitted == 0
        stamp = iso_millis(now())
        self._emitted_by_survey[survey_id] = self._emitted_by_survey.get(survey_id, 0) + self._emitted
        if changes:
            self._caught_up.add(survey_id)
        self._cursors[survey_id] = SurveyCursor(
            continuation_token=continuation_token if changes else previous.continuation_token,
            token_issued_at=(stamp if continuation_token else None) if changes else previous.token_issued_at,
            last_modified=latest(previous.last_modified, self._newest),
            backfill=tuple(remaining),
            response_counts=self._counts.get(survey_id, previous.response_counts)
            if changes
            else previous.response_counts,
            exported_at=stamp if changes else previous.exported_at,
            # the ceiling belongs to the previous token: none until this sync's check sets the new one
            counts_ceiling=None if changes else previous.counts_ceiling,
        )

    def has_final_work(self) -> bool:
        return bool(self._before)

    def final_work(self) -> None:
        """Every export is handled: check each survey exported up to its newest changes against a second
        read of its counts, warn about a shortfall, and keep the ceiling its next check starts from."""
        # not failed, nor a backfill still under way: such a survey is checked once it has caught up
        due = [survey_id for survey_id in self._before if self._caught_up_whole(survey_id)]
        # the second reads overlap: one light request per checked survey, each a round trip
        ahead = self._client.max_concurrent_requests
        recounts = fan_out(due, lambda survey_id: [self._sync.recount(survey_id)], ahead=ahead)
        for survey_id, afters in recounts:
            before, cursor = self._before[survey_id], self._cursors[survey_id]
            after = next(iter(afters))
            if after is None:
                continue
            check, ceiling = check_survey(
                survey_id,
                self._emitted_by_survey.get(survey_id, 0),
                before,
                after,
                previous_ceiling=self._previous_ceilings.get(survey_id),
                full=survey_id in self._checked_whole,
            )
            if check is not None and check.shortfall:
                warn_shortfall(self.name, check)
            self._cursors[survey_id] = replace(cursor, counts_ceiling=ceiling)
            self._sync.export_reports[survey_id] = SurveyExportReport(
                self._emitted_by_survey.get(survey_id, 0), cursor.last_modified, check
            )

    def _caught_up_whole(self, survey_id: str) -> bool:
        cursor = self._cursors.get(survey_id)
        return survey_id in self._caught_up and cursor is not None and not cursor.backfill

    def sync_done(self) -> None:
        """What each survey's export did, for the counts stream; then, with the skip option off, say
        once what exporting unchanged surveys cost, and what saves it."""
        if self.checks_completeness:
            reports = self._sync.export_reports
            for survey_id, cursor in self._cursors.items():
                if survey_id not in reports:
                    emitted = self._emitted_by_survey.get(survey_id, 0)
                    reports[survey_id] = SurveyExportReport(emitted, cursor.last_modified)
        exports, empty = self._changes_exports
        self._changes_exports = [0, 0]
        if self._config.skip_unchanged_surveys or exports < EMPTY_EXPORTS_WORTH_A_HINT or empty * 2 < exports:
            return
        minutes = empty / EXPORT_STARTS_PER_MINUTE
        logger.info(
            "%s: %d of the %d exports of already-synced surveys came back empty: about %.0f minute(s) of "
            "Qualtrics' export budget (%d export starts a minute per brand) went to surveys with nothing "
            "new. The option 'Skip surveys whose response counts did not change' "
            "(skip_unchanged_surveys) exports only surveys whose response counts changed, and re-checks "
            "the others for edits every 'unchanged_survey_recheck_hours'.",
            self.name,
            empty,
            exports,
            minutes,
            EXPORT_STARTS_PER_MINUTE,
        )


def recheck_seconds(survey_id: str, hours: int) -> float:
    """When an unchanged survey is due its re-check for edits: between half the period and the whole
    period after its last export, at a point fixed by its id, so the surveys of a first sync do not
    all come due on the same night."""
    spread = 0.5 + (zlib.crc32(survey_id.encode()) % 1000) / 2000
    return hours * 3600.0 * spread


def to_record(survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Shape one exported response: the promoted top-level columns, then Qualtrics' objects as they are."""
    values = answers_of(raw)
    record = promoted_columns(survey_id, raw, values)
    record["values"] = values
    record["labels"] = raw.get("labels")
    record["displayedFields"] = raw.get("displayedFields")
    record["displayedValues"] = raw.get("displayedValues")
    return record


def answers_of(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The response's `values` object (empty if it has none)."""
    values = raw.get("values")
    return values if type(values) is dict else {}


def promoted_columns(survey_id: str, raw: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The response's ids and the metadata of `values` promoted to typed top-level columns.

    Runs once per response, so it is written out flat (no loops or helper calls): text columns keep
    strings only, integer columns take numbers but not booleans, `finished` takes 0/1 or a boolean.
    Exact type checks (`type(x) is int`) are both stricter (bool is not int here) and cheaper.
    """
    get = values.get
    recorded, start, end = get("recordedDate"), get("startDate"), get("endDate")
    channel, language = get("distributionChannel"), get("userLanguage")
    status, progress, duration = get("status"), get("progress"), get("duration")
    finished = get("finished")
    modified = get("lastModifiedDate") or get("LastModifiedDate")
    recorded = recorded if type(recorded) is str else None
    return {
        "surveyId": survey_id,
        "responseId": raw.get("responseId") or get("_recordId"),
        "recordedDate": recorded,
        "lastModifiedDate": modified if type(modified) is str else recorded,
        "startDate": start if type(start) is str else None,
        "endDate": end if type(end) is str else None,
        "status": status if type(status) is int else int(status) if type(status) is float else None,
        "finished": bool(finished) if type(finished) is int or type(finished) is bool else None,
        "progress": progress if type(progress) is int else int(progress) if type(progress) is float else None,
        "duration": duration if type(duration) is int else int(duration) if type(duration) is float else None,
        "distributionChannel": channel if type(channel) is str else None,
        "userLanguage": language if type(language) is str else None,
    }
