"""A base for streams fed by Qualtrics' response export: finished exports read in completion order.

The CDK reads a stream slice by slice and writes the state after each. Here a slice is a *batch*:
`read_records` takes finished exports from the scheduler (whichever survey and window each is), streams
each file's records and lets the subclass move that survey's cursor, until the checkpoint policy says
the work since the last STATE is worth one (`checkpoints.py`). So a STATE carries exactly what was
emitted, and a sync of 10,000 small surveys writes a handful of STATEs, not 10,000 copies of a
growing state. A survey whose export fails is skipped (its cursor untouched, the other surveys go on);
the stream then ends with one error naming the failed surveys, or a warning for surveys the token's
user may not export.

A subclass says which exports each survey needs (`tasks`), how a file's lines become records
(`records_of`), what to remember once a file is done (`export_done`), and builds its state at each
checkpoint (`checkpoint`), never per record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteTraceMessage,
    EstimateType,
    FailureType,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.checkpoints import CheckpointPolicy
from source_qualtrics.errors import ExportFailed
from source_qualtrics.export import (
    ExportReady,
    ExportScheduler,
    ExportTask,
    ExportTiming,
    InlineWorkers,
    ResponseExporter,
    SurveyFailure,
    ThreadWorkers,
    records_of,
)
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")


class SurveyExportStream(Stream):
    """Exports per survey run by the scheduler; each finished one is a slice, read when it is ready."""

    def __init__(
        self,
        sync: SyncContext,
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sync = sync
        self._client = sync.client
        self._config = sync.config
        self._exporter = ResponseExporter(sync.client, sync.spool_dir, timing=timing, sleep=sleep)
        self._scheduler: ExportScheduler | None = None
        self._results: Iterator[ExportReady | SurveyFailure] = iter(())
        self._upcoming: ExportReady | SurveyFailure | None = None  # the result the next batch starts with
        self._policy = CheckpointPolicy(surveys=0)
        self._estimated = False
        self._failures: list[ExportFailed] = []
        self._finished = False  # `final_work` ran in this sync

    # -- what a subclass provides ---------------------------------------------------------------------

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        """The exports this survey needs in this sync (none: nothing to do for it)."""
        raise NotImplementedError

    def prefetch(self, survey_id: str, sync_mode: SyncMode) -> None:
        """Make ahead, on a worker thread, the reads `tasks` will make for this survey (so it must be
        safe to call from any thread); planning then costs no round trip."""

    def records_of(self, task: ExportTask, lines: Iterator[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """The stream's records from one export file's lines."""
        raise NotImplementedError

    def export_done(self, task: ExportTask, continuation_token: str | None) -> None:
        """Called only after every record of the file was handed over: the place to move a cursor."""

    def expected_rows(self) -> int | None:
        """Rows this sync will emit, if known before any export finishes (for a progress bar)."""
        return None

    def expected_size(self, survey_id: str) -> int:
        """Responses this survey's exports hold, if planning learned it (0: unknown)."""
        return 0

    def split(self, task: ExportTask, attempts: int) -> list[ExportTask] | None:
        """Smaller tasks covering the same responses, for an export Qualtrics failed `attempts` times
        (None: try the same export again)."""
        return None

    def checkpoint(self) -> None:
        """The CDK writes the state next: build it now (it reads `state` after every record)."""

    def has_final_work(self) -> bool:
        """Whether `final_work` has cursors to move once every export is handled (run in the last
        batch, or, when that batch could not know it was the last, in one more)."""
        return False

    def final_work(self) -> None:
        """Every export of the stream was handled: work that moves cursors, run in one last batch so
        the CDK writes a STATE after it."""

    def sync_done(self) -> None:
        """Every export of the stream was handled: the place for a summary of the sync."""

    def tolerated(self, failure: ExportFailed) -> bool:
        """A listed survey the token may not export (403/404: shared without the download permission,
        or deleted since the listing) is a warning; a survey the user named in Survey IDs is an error."""
        return failure.is_config_error and not self._config.survey_ids

    # -- the machinery ------------------------------------------------------------------------------

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        self._failures, self._estimated, self._finished = [], False, False
        survey_ids = self._sync.survey_ids()
        concurrency = self._config.max_concurrent_exports
        requests = self._config.max_concurrent_requests
        self._scheduler = ExportScheduler(
            self._exporter,
            survey_ids,
            lambda survey_id: self.tasks(survey_id, sync_mode),
            concurrency,
            self._sync.exports,
            prepare=lambda survey_id: self.prefetch(survey_id, sync_mode),
            workers=ThreadWorkers(requests, self.name) if requests > 1 else InlineWorkers(),
            split=self.split,
            size=lambda task: self.expected_size(task.survey_id),
            label=self.name,
        )
        self._results = self._scheduler.results()
        self._policy = CheckpointPolicy(surveys=len(survey_ids))
        logger.info(
            "%s: %d survey(s), up to %d export(s) and %d request(s) at a time",
            self.name,
            len(survey_ids),
            concurrency,
            requests,
        )
        batch = 0
        try:
            # A batch starts only once an export is ready, so no empty batch (and no repeated STATE) trails.
            while (upcoming := next(self._results, None)) is not None:
                self._upcoming = upcoming
                yield {"batch": batch}
                batch += 1
            if self.has_final_work() and not self._finished:
                yield {"batch": batch, "final": True}  # the last batch could not tell it was the last
        finally:
            self._scheduler.close()  # however the stream ends: the workers stop, queued calls are cancelled
        self.sync_done()
        self._end_with_failures()

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | AirbyteMessage]:
        """One batch: finished exports until a checkpoint is due (or none are left)."""
        if not stream_slice or "batch" not in stream_slice:
            return
        if stream_slice.get("final"):
            self._finish()
            self.checkpoint()
            return
        result, self._upcoming = self._upcoming, None
        while result is not None:
            if not self._estimated and self._scheduler is not None and self._scheduler.planning_done:
                yield from self._estimate()
            if isinstance(result, SurveyFailure):
                self._record_failure(result.failure)
            else:
                emitted = 0
                for message in self._emit(result):
                    emitted += 1
                    yield message
                if self._policy.due(records=emitted, backfill=result.task.backfill):
                    break
            result = next(self._results, None)
        if result is None or (self._scheduler is not None and self._scheduler.exhausted):
            self._finish()  # the last batch: its STATE carries what the final work moves
        self.checkpoint()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self.final_work()

    def _emit(self, ready: ExportReady) -> Iterator[AirbyteMessage]:
        """One finished export's records, then the subclass moves the survey's cursor past them."""
        task, exported = ready.task, ready.exported
        name = self.name
        count = 0
        try:
            for record in self.records_of(task, records_of(exported, exported.refetch)):
                count += 1
                # Built here rather than by the CDK's `stream_data_to_airbyte_message`, which copies the
                # dict and looks up the schema for a no-op transform on every record.
                yield AirbyteMessage(
                    type=Type.RECORD,
                    record=AirbyteRecordMessage(
                        stream=name, data=record, emitted_at=time.time_ns() // 1_000_000
                    ),
                )
        except ExportFailed as failure:
            self._record_failure(failure)
            return
        finally:
            exported.release()
        logger.info("%s: survey %s, %s: %d record(s)", name, task.survey_id, task.describe(), count)
        self.export_done(task, exported.continuation_token)

    def _estimate(self) -> Iterator[AirbyteMessage]:
        """Once every survey is planned: the rows this sync will emit, if the subclass knows them."""
        self._estimated = True
        rows = self.expected_rows()
        if rows is not None:
            yield self._estimate_message(rows)

    def _record_failure(self, failure: ExportFailed) -> None:
        """The survey's other exports are dropped; its cursor stays where its last finished export left it."""
        if self._scheduler is not None:
            self._scheduler.drop_survey(failure.survey_id)
        if self.tolerated(failure):
            logger.warning("%s: survey %s skipped: %s", self.name, failure.survey_id, failure.reason)
            return
        logger.error(
            "%s: survey %s failed, its cursor unchanged: %s", self.name, failure.survey_id, failure.reason
        )
        self._failures.append(failure)

    def _end_with_failures(self) -> None:
        if not self._failures:
            return
        listing = "; ".join(str(failure) for failure in self._failures)
        all_config = all(failure.is_config_error for failure in self._failures)
        raise AirbyteTracedException(
            message=f"{self.name}: {len(self._failures)} survey(s) could not be exported and keep their "
            f"previous cursor (the other surveys synced): {listing}",
            internal_message=listing,
            failure_type=FailureType.config_error if all_config else FailureType.system_error,
        )

    def _estimate_message(self, rows: int) -> AirbyteMessage:
        estimate = AirbyteEstimateTraceMessage(name=self.name, type=EstimateType.STREAM, row_estimate=rows)
        trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=time.time() * 1000, estimate=estimate)
        return AirbyteMessage(type=Type.TRACE, trace=trace)
