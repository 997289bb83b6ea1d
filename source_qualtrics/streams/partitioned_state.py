"""The per-survey state shape every survey-partitioned stream shares, and its one policy for damage.

`{"states": [{"partition": {"survey_id": "SV_..."}, "cursor": {...}}]}` is the CDK's per-partition
shape, so a later move to the CDK's own partitioned cursors needs no state migration. A saved state
that is not in this shape cannot be trusted for any survey: the stream stops with a config error that
says to reset it (rather than silently syncing some surveys from scratch).

The CDK writes the whole state after every slice and reads a stream's `state` after every record, so a
per-survey stream reads its surveys in a few groups (`survey_groups`), one slice each, and builds its
state once per group: one slice and one state per survey would write state bytes in proportion to
the square of the survey count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from source_qualtrics.checkpoints import SMALL_SHARES
from source_qualtrics.dates import parse_instant
from source_qualtrics.errors import ConfigError

EXPECTED_SHAPE = '{"states": [{"partition": {"survey_id": ...}, "cursor": {...}}]}'


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


def load_partitions(value: Mapping[str, Any] | None, stream: str) -> dict[str, dict[str, Any]]:
    """Per-survey cursors from a saved state; ConfigError if it is not in the shape above."""
    if not value:
        return {}
    states = value.get("states")
    if not isinstance(states, list):
        raise damaged_state(stream, f"it is not in the expected shape ({EXPECTED_SHAPE})")
    cursors: dict[str, dict[str, Any]] = {}
    for entry in states:
        partition = entry.get("partition") if isinstance(entry, Mapping) else None
        cursor = entry.get("cursor") if isinstance(entry, Mapping) else None
        survey_id = partition.get("survey_id") if isinstance(partition, Mapping) else None
        if not isinstance(survey_id, str) or not isinstance(cursor, Mapping):
            raise damaged_state(stream, "it has an entry without a survey_id or cursor")
        cursors[survey_id] = dict(cursor)
    return cursors


def damaged_state(stream: str, why: str) -> ConfigError:
    return ConfigError(f"The saved state for '{stream}' cannot be used ({why}): reset the stream.")


def survey_groups(survey_ids: Sequence[str]) -> Iterator[list[str]]:
    """The surveys in at most `SMALL_SHARES` groups of consecutive ids, one slice (and STATE) each."""
    size = max(1, math.ceil(len(survey_ids) / SMALL_SHARES))
    for start in range(0, len(survey_ids), size):
        yield list(survey_ids[start : start + size])


class SurveyStamps(dict[str, str]):
    """One timestamp per survey (a send date, a read time, a definition's `lastModified`) kept as
    per-survey state under `key`. `snapshot` is what the CDK writes: rebuilt by `checkpoint` at the end
    of a group of surveys, since the CDK reads a stream's state after every record."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.snapshot: dict[str, Any] = {}

    def load(self, value: Mapping[str, Any] | None, stream: str) -> None:
        """A saved state; entries without a readable timestamp are dropped (those surveys start over)."""
        self.clear()
        for survey_id, cursor in load_partitions(value, stream).items():
            stamp = cursor.get(self.key)
            if isinstance(stamp, str) and parse_instant(stamp) is not None:
                self[survey_id] = stamp
        self.checkpoint()

    def checkpoint(self) -> None:
        self.snapshot = dump_partitions({survey_id: {self.key: stamp} for survey_id, stamp in self.items()})
