"""Console entry point: `source-qualtrics spec|check|discover|read`.

A user's mistake (a config_error) is reported as one Airbyte trace line without a Python traceback;
anything else goes through the CDK's own handler, which keeps the stack trace for developers.

`read` takes a faster output path than the CDK's `launch` (same messages, cheaper per record):
- the messages are the CDK's own, from `AbstractSource.read`; `counted_read` is the entrypoint's
  `read` (record counts on every STATE message, memory monitor) with a cheaper per-record count;
- RECORD messages are serialised straight to bytes with orjson (`record_line`), giving the line
  `AirbyteEntrypoint.airbyte_message_to_string` gives; every other message still goes through it;
- `MessageWriter` writes messages, logs and prints into one ordered buffer, flushed in large chunks
  (and at least every 0.1 s), instead of a `str` per record through the CDK's print buffer;
- export-fed streams write most of their records straight into that buffer (record_lines.py).
`unit_tests/test_performance_path.py` checks the output against the CDK's `launch`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.entrypoint import logger as cdk_logger
from airbyte_cdk.logger import PRINT_BUFFER, is_platform_debug_log_enabled
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    ConnectorSpecification,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.constants import ENV_REQUEST_CACHE_PATH
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.config import parse_config
from source_qualtrics.errors import ConfigError
from source_qualtrics.record_lines import IncludeDirectRecords, encode_record, record_line
from source_qualtrics.source import SourceQualtrics

FLUSH_INTERVAL_SECONDS = 0.1  # the CDK's print buffer flushes at the same cadence


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


def main() -> None:
    """The `source-qualtrics` console script: `run()`, then a quick exit once everything is out.

    After a successful command every message is written and flushed, and what is left is the
    interpreter's teardown of the ~1,300 modules airbyte-cdk imports, about 0.25 s per command. So
    the logging handlers are shut down and stdout/stderr flushed (what the exit would have done),
    then the process ends with `os._exit(0)`. A failure, or a thread still running, exits normally.
    """
    run()
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()
    os._exit(0)


def run(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else args
    try:
        if argv[:1] == ["read"]:
            launch_read(SourceQualtrics(), argv)
        elif argv[:1] == ["check"] and (status := check_config_first(argv)) is not None:
            print(status, flush=True)
        else:
            launch(SourceQualtrics(), argv)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        emit_config_error(error)
        sys.exit(1)


def check_config_first(argv: list[str]) -> str | None:
    """A failed CONNECTION_STATUS line for a config the connector itself refuses, else None.

    The CDK's check validates the config against the spec before the connector sees it, and words its
    errors for developers (a regular expression, a schema path). The connector checks the same spec
    and says what to change, so its verdict goes first.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    known, _ = parser.parse_known_args(argv[1:])
    if not known.config:
        return None
    try:
        parse_config(SourceQualtrics.read_config(known.config))
    except ConfigError as error:
        status = AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        message = AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status)
        return filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode())
    return None


def emit_config_error(error: AirbyteTracedException) -> None:
    message = error.as_airbyte_message()
    if message.trace and message.trace.error:
        message.trace.error.stack_trace = None
    line = orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()
    print(filter_secrets(line), flush=True)
    print(f"Configuration error: {filter_secrets(str(error))}", file=sys.stderr)


# -- the read path ----------------------------------------------------------------------------------


def launch_read(source: Source, args: list[str], sink: ByteSink | None = None) -> None:
    """`launch(source, args)` for the read command, with RECORD lines written as bytes."""
    entrypoint = AirbyteEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    PRINT_BUFFER.flush()  # whatever was logged so far goes out first
    if sink is None:
        if sys.__stdout__ is None:
            raise RuntimeError("source-qualtrics needs a standard output to write messages to")
        sink = sys.__stdout__.buffer
    writer = MessageWriter(sink)
    qualtrics = source if isinstance(source, SourceQualtrics) else None
    if qualtrics is not None:
        qualtrics.direct_records = writer  # export-fed streams write most records straight to the writer
    try:
        with writer.carrying_text_output():
            for message in read_messages(entrypoint, parsed_args, writer):
                writer.write(message)
    finally:
        if qualtrics is not None:
            qualtrics.direct_records = None


def read_messages(
    entrypoint: AirbyteEntrypoint, parsed_args: argparse.Namespace, writer: MessageWriter | None = None
) -> Iterator[AirbyteMessage]:
    """The messages `AirbyteEntrypoint.run` produces for `read` (CDK 7.39), before their serialisation.

    Records a stream wrote straight to `writer` are counted and memory-checked as if they had come
    through here (see record_lines.py).
    """
    if getattr(parsed_args, "debug", False) or is_platform_debug_log_enabled():
        entrypoint.logger.setLevel(logging.DEBUG)
        cdk_logger.setLevel(logging.DEBUG)
        entrypoint.logger.debug("Debug logs enabled")
    else:
        entrypoint.logger.setLevel(logging.INFO)
    source = entrypoint.source
    source_spec = source.spec(entrypoint.logger)
    try:
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp_dir:
            os.environ[ENV_REQUEST_CACHE_PATH] = temp_dir
            config = source.configure(source.read_config(parsed_args.config), temp_dir)
            yield from entrypoint._emit_queued_messages(source)
            catalog = source.read_catalog(parsed_args.catalog)
            state = source.read_state(parsed_args.state)
            yield from counted_read(entrypoint, source_spec, config, catalog, state, writer)
    finally:
        yield from entrypoint._emit_queued_messages(source)


def counted_read(
    entrypoint: AirbyteEntrypoint,
    source_spec: ConnectorSpecification,
    config: Mapping[str, Any],
    catalog: Any,
    state: list[Any],
    writer: MessageWriter | None = None,
) -> Iterator[AirbyteMessage]:
    """`AirbyteEntrypoint.read` (CDK 7.39) with a cheaper per-record count.

    The CDK builds and hashes a `HashableStreamDescriptor` for every record. Here records are counted
    under a plain (stream, namespace) key and the counts are handed to the CDK's own
    `handle_record_counts` before any other message, so each STATE message gets exactly the
    `sourceStats.recordCount` the CDK would have put on it. The memory monitor still sees every message.
    """
    entrypoint.set_up_secret_filter(config, source_spec.connectionSpecification)
    if entrypoint.source.check_config_against_spec:
        entrypoint.validate_connection(source_spec, config)
    counts: defaultdict[HashableStreamDescriptor, float] = defaultdict(float)
    uncounted: dict[tuple[str, str | None], float] = {} if writer is None else writer.record_counts
    monitor = entrypoint._memory_monitor
    if writer is not None:
        writer.on_record = monitor.check_memory_usage  # records written directly are seen too

    def counted(message: AirbyteMessage) -> AirbyteMessage:
        record = message.record
        if message.type == Type.RECORD and record is not None:
            key = (record.stream, record.namespace)
            uncounted[key] = uncounted.get(key, 0.0) + 1.0
            return message
        for (name, namespace), number in uncounted.items():
            counts[HashableStreamDescriptor(name=name, namespace=namespace)] += number
        uncounted.clear()
        return AirbyteEntrypoint.handle_record_counts(message, counts)

    for message in entrypoint.source.read(entrypoint.logger, config, catalog, state):
        yield counted(message)
        try:
            monitor.check_memory_usage()
        except AirbyteTracedException:
            for queued in entrypoint._emit_queued_messages(entrypoint.source):
                yield counted(queued)
            raise
    for queued in entrypoint._emit_queued_messages(entrypoint.source):
        yield counted(queued)


class MessageWriter:
    """One buffered, ordered byte stream for messages and for the text the CDK prints or logs.

    While `carrying_text_output()` is active, the CDK's log handler and `sys.stdout`/`sys.stderr` write
    here instead of into the CDK's print buffer, so every line keeps the order in which it was produced
    while records are written in large chunks. The buffer goes out when it holds BUFFER_BYTES, when
    FLUSH_INTERVAL_SECONDS have passed since the last flush (as the CDK's print buffer does), after every
    non-record message and log line, and at the end.
    """

    BUFFER_BYTES = 1 << 16

    def __init__(self, sink: ByteSink, *, clock: Callable[[], float] = time.monotonic) -> None:
        # Records written directly (`write_record`): counted per (stream, namespace) until the next
        # STATE takes the counts, and in total per stream for the CDK's "Read N records" log line.
        self.record_counts: dict[tuple[str, str | None], float] = {}
        self.direct_totals: dict[str, int] = {}
        self.on_record: Callable[[], None] | None = None
        self._sink = sink
        self._clock = clock
        self._parts: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()  # a log line from another thread must not race a flush
        self._last_flush = clock()
        stdout = sys.__stdout__
        self._encoding = getattr(stdout, "encoding", None) or "utf-8"
        self._errors = getattr(stdout, "errors", None) or "strict"

    def write(self, message: AirbyteMessage) -> None:
        line = record_line(message)
        if line is None:
            self._append(AirbyteEntrypoint.airbyte_message_to_string(message).encode() + b"\n")
            self.flush()
            return
        self._append_record(line)

    def write_record(self, stream: str, data: dict[str, Any], emitted_at: int) -> bool:
        """A record from an export-fed stream, past the CDK's loop (record_lines.py says why)."""
        line = encode_record(stream, data, emitted_at)
        if line is None:
            return False
        if self.on_record is not None:
            self.on_record()
        self._append_record(line)
        return True

    def records_written(self, stream: str, count: int) -> None:
        """The stream's count of records written directly, taken by the next STATE and the CDK's log."""
        key = (stream, None)
        self.record_counts[key] = self.record_counts.get(key, 0.0) + count
        self.direct_totals[stream] = self.direct_totals.get(stream, 0) + count

    def _append_record(self, line: bytes) -> None:
        with self._lock:  # _append, inlined: this runs once per record
            self._parts.append(line)
            self._size += len(line)
        if self._size >= self.BUFFER_BYTES:
            self.flush()
        else:
            now = self._clock()
            if now - self._last_flush >= FLUSH_INTERVAL_SECONDS:
                self.flush(now)

    def write_text(self, text: str) -> int:
        """What `print()` and the log handler call; the text goes out in order with the messages."""
        if text:
            self._append(text.encode(self._encoding, self._errors))
        return len(text)

    def flush(self, now: float | None = None) -> None:
        with self._lock:
            if self._parts:
                self._sink.write(b"".join(self._parts))
                self._parts.clear()
                self._size = 0
            self._sink.flush()
        self._last_flush = self._clock() if now is None else now

    def _append(self, data: bytes) -> None:
        with self._lock:
            self._parts.append(data)
            self._size += len(data)

    @contextmanager
    def carrying_text_output(self) -> Iterator[None]:
        text = _TextChannel(self)
        handlers = [
            handler
            for handler in logging.getLogger().handlers
            if isinstance(handler, logging.StreamHandler) and handler.stream is PRINT_BUFFER
        ]
        saved = sys.stdout, sys.stderr
        counts_in_logs = IncludeDirectRecords(self.direct_totals)
        for handler in handlers:
            handler.setStream(text)
            handler.addFilter(counts_in_logs)
        sys.stdout = sys.stderr = text
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            for handler in handlers:
                handler.setStream(PRINT_BUFFER)
                handler.removeFilter(counts_in_logs)
            self.flush()


class _TextChannel:
    """A minimal text stream over a MessageWriter; `flush()` (the log handler calls it) sends it out."""

    def __init__(self, writer: MessageWriter) -> None:
        self._writer = writer

    def write(self, text: str) -> int:
        return self._writer.write_text(text)

    def flush(self) -> None:
        self._writer.flush()
