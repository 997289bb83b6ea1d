"""RECORD lines as bytes, and the direct route export-fed streams take to the output with them.

A RECORD line is what the CDK's `AirbyteMessageSerializer` would print: `type`, then `record` with
`stream`, `data` (top-level None values dropped, as the CDK drops them) and `emitted_at`. Only `data`
is encoded per record; the envelope is joined around it as bytes.

The direct route: a response export yields hundreds of thousands of records, and each one, as an
AirbyteMessage, travels through about ten generator layers (the CDK's `_read_stream` and
`AbstractSource.read`, the entrypoint's record counting and memory check, the writer), some 4 µs a
record and a fifth of a sync's CPU. When the connector runs its own read loop (`run.launch_read`), it
hands the export-fed streams a `DirectRecords` output; a stream's first record still goes through the
CDK (which marks the stream RUNNING), the rest are written straight into the same ordered output
buffer. What the loop did per record is still done: the line is the same bytes, the STATE messages
carry the exact record counts, the memory monitor sees every record, and the CDK's "Read N records"
log line is corrected to include them (`IncludeDirectRecords`). Without that output (the CDK's own
`launch`, tests, PyAirbyte in-process), every record goes the CDK's way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

import orjson
from airbyte_cdk.models import AirbyteMessage, Type


class DirectRecords(Protocol):
    def write_record(self, stream: str, data: dict[str, Any], emitted_at: int) -> bool:
        """Write the record's line; False if it must go through the CDK instead."""
        ...

    def records_written(self, stream: str, count: int) -> None:
        """Count records written directly; called before the stream yields its next STATE."""
        ...


def record_line(message: AirbyteMessage) -> bytes | None:
    """The CDK's line for a plain RECORD message, as bytes with its newline; None for anything else.

    Messages with a namespace, meta or file reference, a non-integer emitted_at, and data orjson
    cannot encode (e.g. integers beyond 64 bits), are left to the CDK.
    """
    record = message.record
    if (
        message.type != Type.RECORD
        or record is None
        or record.namespace is not None
        or record.meta is not None
        or record.file_reference is not None
        or type(record.data) is not dict
        or type(record.emitted_at) is not int
    ):
        return None
    return encode_record(record.stream, record.data, record.emitted_at)


def encode_record(stream: str, data: dict[str, Any], emitted_at: int) -> bytes | None:
    """The RECORD line for `data`, or None if orjson cannot encode it the way the CDK would."""
    if None in data.values():
        data = {key: value for key, value in data.items() if value is not None}
    try:
        encoded = orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return None
    return b"".join((record_prefix(stream), encoded, b',"emitted_at":%d}}\n' % emitted_at))


@lru_cache(maxsize=64)
def record_prefix(stream: str) -> bytes:
    return b'{"type":"RECORD","record":{"stream":' + orjson.dumps(stream) + b',"data":'


class IncludeDirectRecords(logging.Filter):
    """Adds the records a stream wrote directly to the CDK's "Read N records from S stream" line."""

    CDK_LINE = re.compile(r"Read (\d+) records from (.+) stream")

    def __init__(self, direct_totals: Mapping[str, int]) -> None:
        super().__init__()
        self._direct_totals = direct_totals

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.args and record.msg.startswith("Read "):
            match = self.CDK_LINE.fullmatch(record.msg)
            if match and (direct := self._direct_totals.get(match[2], 0)):
                record.msg = f"Read {int(match[1]) + direct} records from {match[2]} stream"
        return True
