"""A base for streams fed by Qualtrics' response export: one slice per finished export, in completion order.

The CDK reads a stream slice by slice and checkpoints the state after each. Here `stream_slices` is
the export scheduler itself: it yields a slice whenever an export finishes (whichever survey and
window it is), `read_records` streams that file's records, and the subclass moves that survey's
cursor, so the CDK's STATE right after the slice carries exactly what was emitted. A survey whose
export fails is skipped (its cursor untouched, the other surveys go on); the stream then ends with
one error naming the failed surveys, or a warning for surveys the token's user may not export.

A subclass says which exports each survey needs (`tasks`), how a file's lines become records
(`records_of`), and what to remember once a file is done (`export_done`).
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

from source_qualtrics.errors import ExportFailed
from source_qualtrics.export import (
    ExportReady,
    ExportScheduler,
    ExportTask,
    ExportTiming,
    ResponseExporter,
    SurveyFailure,
    records_of,
)
from source_qualtrics.sync import SyncContext

logger = logging.getLogger("airbyte")

ESTIMATE_SLICE = {"estimate": True}


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
        self._ready: dict[int, ExportReady] = {}
        self._failures: list[ExportFailed] = []
        self._expected_rows: int | None = None

    # -- what a subclass provides ---------------------------------------------------------------------

    def tasks(self, survey_id: str, sync_mode: SyncMode) -> list[ExportTask]:
        """The exports this survey needs in this sync (none: nothing to do for it)."""
        raise NotImplementedError

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

    def split(self, task: ExportTask) -> list[ExportTask] | None:
        """Smaller tasks covering the same responses, for an export Qualtrics failed (None: cannot)."""
        return None

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
        self._failures, self._ready = [], {}
        tasks = [task for survey_id in self._sync.survey_ids() for task in self.tasks(survey_id, sync_mode)]
        # Longest exports first (by the response counts read while planning): a big survey's export
        # then runs while the small ones come and go, instead of starting last and ending the sync late.
        tasks.sort(key=lambda task: -self.expected_size(task.survey_id))
        self._expected_rows = self.expected_rows()
        concurrency = self._config.max_concurrent_exports
        self._scheduler = ExportScheduler(
            self._exporter, tasks, concurrency, self._sync.exports, split=self.split, label=self.name
        )
        surveys = len({task.survey_id for task in tasks})
        logger.info(
            "%s: %d export(s) for %d survey(s), up to %d at a time",
            self.name,
            len(tasks),
            surveys,
            concurrency,
        )
        if self._expected_rows is not None:
            yield ESTIMATE_SLICE
        for number, result in enumerate(self._scheduler.results()):
            if isinstance(result, SurveyFailure):
                self._record_failure(result.failure)
                continue
            self._ready[number] = result
            yield {"survey_id": result.task.survey_id, "export": number, "of": result.task.describe()}
        self._end_with_failures()

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | AirbyteMessage]:
        if not stream_slice:
            return
        if stream_slice == ESTIMATE_SLICE:
            yield self._estimate_message(self._expected_rows or 0)
            return
        ready = self._ready.pop(stream_slice["export"])
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
