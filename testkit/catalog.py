"""Configured catalogs built from the connector's own `discover` output, as the platform builds them."""

from __future__ import annotations

from typing import Any

# The streams fed by response exports; survey_response_counts goes with them: beside `responses` it
# reads nothing of its own (it reports the counts the exports read), alone it reads every survey's.
EXPORT_FED_STREAMS = (
    "responses",
    "question_answers",
    "in_progress_responses",
    "response_ids",
    "survey_response_counts",
)


def fan_out_stream_names(discovered: dict[str, Any]) -> list[str]:
    """Every discovered stream but the export-fed ones: the streams whose reads fan out."""
    return [stream["name"] for stream in discovered["streams"] if stream["name"] not in EXPORT_FED_STREAMS]


def configure(
    discovered: dict[str, Any],
    *streams: str,
    sync_mode: str = "incremental",
    destination_sync_mode: str | None = None,
) -> dict[str, Any]:
    """Select `streams` of a discovered catalog, with their declared cursor and primary key.

    A stream that cannot sync incrementally is configured as a full refresh. The destination mode
    defaults to what a user would pick: `append_dedup` for incremental streams, `overwrite` otherwise.
    """
    by_name = {stream["name"]: stream for stream in discovered["streams"]}
    unknown = [name for name in streams if name not in by_name]
    if unknown:
        raise KeyError(f"not in the discovered catalog: {unknown} (it has {sorted(by_name)})")
    entries = []
    for name in streams:
        stream = by_name[name]
        mode = sync_mode if sync_mode in stream["supported_sync_modes"] else "full_refresh"
        entries.append(
            {
                "stream": stream,
                "sync_mode": mode,
                "cursor_field": stream.get("default_cursor_field") or [],
                "destination_sync_mode": destination_sync_mode
                or ("append_dedup" if mode == "incremental" else "overwrite"),
                "primary_key": stream.get("source_defined_primary_key") or [],
            }
        )
    return {"streams": entries}
