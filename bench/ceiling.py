"""The CDK ceiling: the floor's loop (`bench.floor.export_records`) yielded through a minimal airbyte-cdk source.

One `Stream` whose `read_records` yields the floor's parsed lines, one `AbstractSource`, started with
`airbyte_cdk.entrypoint.launch` like any connector. Whatever it costs over the floor is the CDK's own
read loop (message objects, serialisation, record counting, STATE), which every airbyte-cdk connector
pays; so the connector is measured against this, the fastest its public read path allows.

    python -m bench.ceiling read --config CONFIG --catalog CATALOG   (CONFIG: {"url": ..., "token": ...})

`--records dicts` (the default, the public contract of `read_records`) or `--records messages`
(ready-made `AirbyteMessage`s, what the connector yields) picks what the stream hands the CDK.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    ConnectorSpecification,
    SyncMode,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

from bench.floor import export_records

STREAM = "responses"
# The log line `bench.measure` takes as the start of the download (the connector logs its own).
DOWNLOAD_LOG = "ceiling: downloading the export"
logger = logging.getLogger("airbyte")


class ExportRecords(Stream):
    primary_key = None

    def __init__(self, url: str, token: str, messages: bool) -> None:
        self._url, self._token, self._messages = url, token, messages

    @property
    def name(self) -> str:
        return STREAM

    def get_json_schema(self) -> Mapping[str, Any]:
        return {"type": "object", "properties": {}}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | AirbyteMessage]:
        logger.info(DOWNLOAD_LOG)
        records: Iterator[dict[str, Any]] = export_records(self._url, self._token)
        if not self._messages:
            yield from records
            return
        for record in records:
            yield AirbyteMessage(
                type=Type.RECORD,
                record=AirbyteRecordMessage(stream=STREAM, data=record, emitted_at=time.time_ns() // 1_000_000),
            )


class CeilingSource(AbstractSource):
    def __init__(self, messages: bool) -> None:
        self._messages = messages

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={"type": "object", "required": ["url", "token"], "properties": {}}
        )

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [ExportRecords(config["url"], config["token"], self._messages)]


def main(argv: list[str]) -> None:
    messages = False
    if "--records" in argv:
        at = argv.index("--records")
        messages = argv[at + 1] == "messages"
        argv = argv[:at] + argv[at + 2 :]
    launch(CeilingSource(messages), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
