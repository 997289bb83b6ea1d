"""A base for streams fed by Qualtrics' response-export job: one slice (and one export) per survey.

It owns what every such stream needs: the surveys become slices, their exports are started ahead
(`max_concurrent_exports`) while the previous file is parsed, the spool folder is cleaned up, and a
survey whose export fails is recorded and skipped so the others still sync; the stream then ends
with one error that lists the failed surveys. A subclass says which surveys to export with which
body, how an exported line becomes a record, and what to remember once a survey is done.
"""

from __future__ import annotations

import logging
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteTraceMessage,
    ConfiguredAirbyteStream,
    EstimateType,
    FailureType,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import SliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import QualtricsConfig
from source_qualtrics.errors import ExportFailed, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export import (
    ExportPipeline,
    ExportRequest,
    ExportRun,
    ExportTiming,
    ResponseExporter,
    make_spool_dir,
    remove_spool_dir,
)
from source_qualtrics.record_lines import DirectRecords
from source_qualtrics.streams.base import list_survey_ids

logger = logging.getLogger("airbyte")

DEFAULT_BYTES_PER_RECORD = 1500.0


class Progress:
    """Row and byte estimates for a UI progress bar, refined as each survey's file arrives.

    Only the export file's uncompressed size is known before a survey is parsed; the bytes per record
    seen so far turn it into rows, and the surveys still to come are assumed to be like the average.
    """

    def __init__(self, surveys: int) -> None:
        self.surveys = surveys
        self.done = 0
        self.rows = 0
        self.bytes = 0

    def survey_finished(self, rows: int, size: int) -> None:
        self.done += 1
        self.rows += rows
        self.bytes += size

    def estimate_message(self, stream: str, current_size: int) -> AirbyteMessage:
        per_row = self.bytes / self.rows if self.rows else DEFAULT_BYTES_PER_RECORD
        current_rows = current_size / per_row
        average_bytes = (self.bytes + current_size) / (self.done + 1)
        remaining = max(0, self.surveys - self.done - 1)
        estimate = AirbyteEstimateTraceMessage(
            name=stream,
            type=EstimateType.STREAM,
            row_estimate=int(self.rows + current_rows + remaining * average_bytes / per_row),
            byte_estimate=int(self.bytes + current_size + remaining * average_bytes),
        )
        trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=time.time() * 1000, estimate=estimate)
        return AirbyteMessage(type=Type.TRACE, trace=trace)


def uncompressed_size(path: Path) -> int:
    """Bytes of NDJSON an export file holds, read from the zip directory without inflating anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return path.stat().st_size


@dataclass
class PlannedExport:
    """One survey's slice: the export to run and whatever the subclass wants back when it is done."""

    request: ExportRequest
    context: dict[str, Any] = field(default_factory=dict)


class SurveyExportStream(Stream):
    """One export per survey, started ahead, parsed one at a time, failures isolated per survey."""

    def __init__(
        self,
        client: QualtricsClient,
        config: QualtricsConfig,
        *,
        timing: ExportTiming | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._config = config
        self._timing = timing
        self._sleep = sleep
        self._pipeline: ExportPipeline | None = None
        self._spool_dir: Path | None = None
        self._planned: dict[str, PlannedExport] = {}
        self._failures: list[ExportFailed] = []
        self.direct_records: DirectRecords | None = None  # see record_lines.py
        self._passed_to_cdk = False
        self._progress = Progress(0)
        self._state_manager: ConnectorStateManager | None = None

    # -- what a subclass provides ---------------------------------------------------------------------

    def plan(self, sync_mode: SyncMode) -> list[PlannedExport]:
        raise NotImplementedError

    def records_of(
        self, run: ExportRun, planned: PlannedExport
    ) -> Iterator[Mapping[str, Any] | AirbyteMessage]:
        raise NotImplementedError

    def survey_done(self, run: ExportRun, planned: PlannedExport, sync_mode: SyncMode) -> None:
        """Called only after every record of the survey was handed over: the place to move a cursor."""

    def after_survey(self, sync_mode: SyncMode) -> Iterable[AirbyteMessage]:
        """Extra messages once a survey is done and its cursor moved (e.g. a companion's checkpoint)."""
        return ()

    def tolerated(self, failure: ExportFailed) -> bool:
        """Whether a failure is only worth a warning (e.g. a permission the stream can live without)."""
        return False

    # -- shared helpers -------------------------------------------------------------------------------

    def survey_ids(self) -> list[str]:
        """The configured surveys, else every survey the token's user can see."""
        return list_survey_ids(self._client, self._config)

    # -- the machinery ------------------------------------------------------------------------------

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        planned = self.plan(sync_mode)
        self._planned = {entry.request.survey_id: entry for entry in planned}
        self._spool_dir = make_spool_dir()
        exporter = ResponseExporter(self._client, self._spool_dir, timing=self._timing, sleep=self._sleep)
        lookahead = self._config.max_concurrent_exports
        self._pipeline = ExportPipeline(exporter, [entry.request for entry in planned], lookahead)
        self._progress = Progress(len(planned))
        logger.info("%s: %d survey(s) to export, up to %d at a time", self.name, len(planned), lookahead)
        for entry in planned:
            yield {"survey_id": entry.request.survey_id}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | AirbyteMessage]:
        if not stream_slice or self._pipeline is None:
            return
        survey_id = stream_slice["survey_id"]
        planned = self._planned[survey_id]
        try:
            run = self._pipeline.next_run(survey_id)
        except (ExportFailed, QualtricsApiError, QualtricsConnectionError) as error:
            self._record_failure(survey_id, error)
            return
        except Exception as error:  # an unexpected fault in one survey must not cost the others their sync
            logger.exception("%s: unexpected error while exporting survey %s", self.name, survey_id)
            self._record_failure(survey_id, error)
            return
        size = uncompressed_size(run.path)
        yield self._progress.estimate_message(self.name, size)
        count = 0
        name = self.name
        direct = self.direct_records
        written_directly = 0
        try:
            for record in self.records_of(run, planned):
                count += 1
                if type(record) is dict:
                    emitted_at = time.time_ns() // 1_000_000
                    # After the stream's first record (the CDK marks the stream RUNNING on it), straight
                    # to the output when the connector runs its own read loop (record_lines.py).
                    if (
                        direct is not None
                        and self._passed_to_cdk
                        and direct.write_record(name, record, emitted_at)
                    ):
                        written_directly += 1
                        continue
                    self._passed_to_cdk = True
                    # Built here rather than by the CDK's `stream_data_to_airbyte_message`, which copies
                    # the dict and looks up the schema for a no-op transform on every record.
                    record = AirbyteMessage(
                        type=Type.RECORD,
                        record=AirbyteRecordMessage(stream=name, data=record, emitted_at=emitted_at),
                    )
                yield record
        except ExportFailed as error:
            self._record_failure(survey_id, error)
            return
        finally:
            if direct is not None and written_directly:  # before the survey's STATE: it carries the count
                direct.records_written(name, written_directly)
            run.path.unlink(missing_ok=True)
            self._progress.survey_finished(count, size)
        logger.info("%s: survey %s done, %d record(s)", self.name, survey_id, count)
        self.survey_done(run, planned, sync_mode)
        yield from self.after_survey(sync_mode)

    def read(
        self,
        configured_stream: ConfiguredAirbyteStream,
        logger: logging.Logger,
        slice_logger: SliceLogger,
        stream_state: MutableMapping[str, Any],
        state_manager: ConnectorStateManager | None,
        internal_config: InternalConfig,
    ) -> Iterator[Any]:
        """Read every survey; only then report the ones that failed, so the others keep their progress."""
        self._failures = []
        self._passed_to_cdk = False
        self._state_manager = state_manager
        try:
            if self.cursor_field:
                yield from self._read_with_checkpoints(configured_stream, logger, slice_logger, state_manager)
            else:
                yield from super().read(
                    configured_stream, logger, slice_logger, stream_state, state_manager, internal_config
                )
        finally:
            if self._spool_dir is not None:
                remove_spool_dir(self._spool_dir)
                self._spool_dir = None
        if self._failures:
            listing = "; ".join(str(failure) for failure in self._failures)
            all_config = all(failure.is_config_error for failure in self._failures)
            raise AirbyteTracedException(
                message=f"{self.name}: {len(self._failures)} survey(s) could not be exported and keep their "
                f"previous cursor: {listing}",
                internal_message=listing,
                failure_type=FailureType.config_error if all_config else FailureType.system_error,
            )

    def _read_with_checkpoints(
        self,
        configured_stream: ConfiguredAirbyteStream,
        logger: logging.Logger,
        slice_logger: SliceLogger,
        state_manager: ConnectorStateManager | None,
    ) -> Iterator[Any]:
        """What the CDK's `Stream.read` does for a stream with per-slice state, minus its per-record work.

        The CDK re-derives the state after every record (`get_updated_state`, `state` getter, checkpoint
        reader) although these streams only move a survey's cursor once its last record is out. Here the
        state is read and checkpointed once per survey, right after its records, exactly where the CDK
        would emit it.
        """
        sync_mode = configured_stream.sync_mode
        self.configured_json_schema = configured_stream.stream.json_schema
        slices = 0
        for stream_slice in self.stream_slices(
            sync_mode=sync_mode, cursor_field=configured_stream.cursor_field
        ):
            slices += 1
            if slice_logger.should_log_slice_message(logger):
                yield slice_logger.create_slice_log_message(stream_slice)
            yield from self.read_records(sync_mode, stream_slice=stream_slice)
            if state_manager is not None:
                yield self._checkpoint(state_manager)
        if not slices and state_manager is not None:  # as the CDK: an empty read still confirms its state
            yield self._checkpoint(state_manager)

    def _checkpoint(self, state_manager: ConnectorStateManager) -> AirbyteMessage:
        state: MutableMapping[str, Any] = getattr(self, "state", {})  # every stream with a cursor has one
        state_manager.update_state_for_stream(self.name, self.namespace, state)
        return state_manager.create_state_message(self.name, self.namespace)

    def _record_failure(self, survey_id: str, error: Exception) -> None:
        failure = error if isinstance(error, ExportFailed) else ExportFailed(survey_id, str(error))
        if self.tolerated(failure):
            logger.warning("%s: survey %s skipped: %s", self.name, survey_id, failure.reason)
            return
        logger.error("%s: survey %s failed, cursor unchanged: %s", self.name, survey_id, failure.reason)
        self._failures.append(failure)
