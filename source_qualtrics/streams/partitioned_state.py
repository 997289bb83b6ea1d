"""The per-survey state shape every survey-partitioned stream shares.

`{"states": [{"partition": {"survey_id": "SV_..."}, "cursor": {...}}]}` is the CDK's per-partition
shape, so a later move to the CDK's own partitioned cursors needs no state migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def dump_partitions(cursors: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per-survey cursors as state; `{}` when there is nothing to remember yet."""
    if not cursors:
        return {}
    return {
        "states": [
            {"partition": {"survey_id": survey_id}, "cursor": dict(cursor)}
            for survey_id, cursor in sorted(cursors.items())
        ]
    }


def load_partitions(value: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per-survey cursors from state, skipping entries that are not in the shape above."""
    cursors: dict[str, dict[str, Any]] = {}
    states = (value or {}).get("states")
    for entry in states if isinstance(states, list) else []:
        if not isinstance(entry, Mapping):
            continue
        partition, cursor = entry.get("partition"), entry.get("cursor")
        survey_id = partition.get("survey_id") if isinstance(partition, Mapping) else None
        if isinstance(survey_id, str) and isinstance(cursor, Mapping):
            cursors[survey_id] = dict(cursor)
    return cursors
