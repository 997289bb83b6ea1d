"""The CDK ceiling: the floor's loop (`bench.floor.export_records`) yielded by a minimal airbyte-cdk source.

One `Stream` whose `read_records` yields the floor's parsed lines, one `AbstractSource`, started with
`airbyte_cdk.entrypoint.launch` like any connector. Whatever it costs over the floor is the CDK's own
read loop (message objects, serialisation, record counting, STATE), which every airbyte-cdk connector
pays; so the connector is measured against this, the fastest its public read path allows.

    python -m bench.ceiling read --config CONFIG --catalog CATALOG   (CONFIG: {"url": ..., "token": ...})

The stream yields plain dicts, the public contract of `read_records`. Yielding ready-made
`AirbyteMessage`s instead (as the connector does) measured the same here (50,000 responses: 38-39k
against 38-41k records/s from the download on), so the simpler form stands for the ceiling.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

from bench.floor import export_records

STREAM = "responses"
# The log line `bench.measure` takes as the start of the download (the connector logs its own).
DOWNLOAD_LOG = "ceiling: downloading the export"
logger = logging.getLogger("airbyte")


class ExportRecords(Stream):
    primary_key = None

    def __init__(self, url: str, token: str) -> None:
        self._url, self._token = url, token

    @property
    def name(self) -> str:
        return STREAM

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK caches it
        return {"type": "object", "properties": {}}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        logger.info(DOWNLOAD_LOG)
        yield from export_records(self._url, self._token)


class CeilingSource(AbstractSource):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={"type": "object", "required": ["url", "token"], "properties": {}}
        )

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [ExportRecords(config["url"], config["token"])]


if __name__ == "__main__":
    launch(CeilingSource(), sys.argv[1:])
