"""One survey's cursor for the export-fed response streams, inside the per-partition state shape.

A cursor holds what the next export of the survey needs: the continuation token Qualtrics issued and
when (tokens expire after about a week), the newest last-modified timestamp seen (for the date-window
fallback), the windows of a first sync that are still to be exported (`backfill`, so an interrupted
backfill resumes at the window in flight), the survey's response counts at its last export (for
the option that skips unchanged surveys), and the most responses that export can have held
(`countsCeiling`: the completeness check of the next changes export starts from it). States written
before windows existed load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from source_qualtrics.dates import DateTime, Duration, parse_instant
from source_qualtrics.streams.partitioned_state import load_partitions
from source_qualtrics.windows import Window

TOKEN_MAX_AGE = Duration(days=6, hours=12)  # Qualtrics says a week; stay clear of the edge


@dataclass(frozen=True)
class SurveyCursor:
    continuation_token: str | None = None
    token_issued_at: str | None = None
    last_modified: str | None = None
    backfill: tuple[Window, ...] = ()
    response_counts: dict[str, int] = field(default_factory=dict)
    exported_at: str | None = None
    counts_ceiling: int | None = None

    @property
    def started(self) -> bool:
        """Whether any export of the survey has finished (else its first sync is still to be planned)."""
        return bool(self.continuation_token or self.last_modified or self.backfill or self.exported_at)

    def usable_token(self, now: DateTime) -> str | None:
        """The stored token unless it is missing or too old to be accepted."""
        if not self.continuation_token:
            return None
        issued = parse_instant(self.token_issued_at)
        if issued is not None and now - issued > TOKEN_MAX_AGE:
            return None
        return self.continuation_token

    def to_json(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {}
        if self.continuation_token:
            cursor["continuationToken"] = self.continuation_token
            cursor["tokenIssuedAt"] = self.token_issued_at
        if self.last_modified:
            cursor["lastModifiedDate"] = self.last_modified
        if self.backfill:
            cursor["backfill"] = [window.to_json() for window in self.backfill]
        if self.response_counts:
            cursor["responseCounts"] = dict(self.response_counts)
        if self.exported_at:
            cursor["exportedAt"] = self.exported_at
        if self.counts_ceiling is not None:
            cursor["countsCeiling"] = self.counts_ceiling
        return cursor

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SurveyCursor:
        """A saved cursor; a damaged entry is a ValueError (the caller says which stream to reset)."""

        def text(key: str) -> str | None:
            item = value.get(key)
            return item if isinstance(item, str) and item else None

        backfill = value.get("backfill") or []
        counts = value.get("responseCounts")
        ceiling = value.get("countsCeiling")
        return cls(
            text("continuationToken"),
            text("tokenIssuedAt"),
            text("lastModifiedDate"),
            tuple(Window.from_json(window) for window in backfill),
            {k: v for k, v in counts.items() if isinstance(v, int)} if isinstance(counts, Mapping) else {},
            text("exportedAt"),
            ceiling if isinstance(ceiling, int) and not isinstance(ceiling, bool) else None,
        )


def export_positions(state: Mapping[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    """Per survey, what decides the next export (token, newest timestamp, backfill windows): two
    streams at the same positions ask for the very same exports (a damaged state was refused earlier)."""
    keys = ("continuationToken", "lastModifiedDate", "backfill")
    return {
        survey_id: tuple(repr(cursor.get(key)) for key in keys)
        for survey_id, cursor in load_partitions(state, "responses").items()
    }
