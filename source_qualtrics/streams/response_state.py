"""Per-survey cursors for `responses`, in the CDK's per-partition state shape.

`{"states": [{"partition": {"survey_id": "SV_..."}, "cursor": {...}}]}` keeps a later move to the
CDK's own partitioned cursors free of migrations. A cursor holds what the next export needs: the
continuation token Qualtrics issued, when it was issued (tokens expire after about a week) and the
newest last-modified timestamp seen, for the date-window fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from source_qualtrics.errors import ConfigError

TOKEN_MAX_AGE = timedelta(days=6, hours=12)  # Qualtrics says a week; stay clear of the edge


@dataclass(frozen=True)
class SurveyCursor:
    continuation_token: str | None = None
    token_issued_at: str | None = None
    last_modified: str | None = None

    def usable_token(self, now: datetime) -> str | None:
        """The stored token unless it is missing or too old to be accepted."""
        if not self.continuation_token:
            return None
        if self.token_issued_at:
            try:
                issued = datetime.fromisoformat(self.token_issued_at.replace("Z", "+00:00"))
            except ValueError:
                return self.continuation_token
            if now - issued > TOKEN_MAX_AGE:
                return None
        return self.continuation_token

    def to_json(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {}
        if self.continuation_token:
            cursor["continuationToken"] = self.continuation_token
            cursor["tokenIssuedAt"] = self.token_issued_at
        if self.last_modified:
            cursor["lastModifiedDate"] = self.last_modified
        return cursor

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SurveyCursor:
        def text(key: str) -> str | None:
            item = value.get(key)
            return item if isinstance(item, str) and item else None

        return cls(text("continuationToken"), text("tokenIssuedAt"), text("lastModifiedDate"))


class ResponsesState:
    """All surveys' cursors; surveys absent from this sync keep theirs untouched."""

    def __init__(self) -> None:
        self._cursors: dict[str, SurveyCursor] = {}
        self._snapshot: dict[str, Any] = {}

    def get(self, survey_id: str) -> SurveyCursor | None:
        return self._cursors.get(survey_id)

    def set(self, survey_id: str, cursor: SurveyCursor) -> None:
        self._cursors[survey_id] = cursor
        self._snapshot = self._build()

    def as_json(self) -> dict[str, Any]:
        """Cheap to call per record: the CDK reads the state after every record it sees."""
        return self._snapshot

    def load(self, value: Mapping[str, Any] | None, stream: str = "responses") -> None:
        self._cursors = {}
        if value:
            states = value.get("states")
            if not isinstance(states, list):
                raise ConfigError(
                    f"The saved state for '{stream}' is not in the expected shape "
                    '({"states": [{"partition": {"survey_id": ...}, "cursor": {...}}]}): reset the stream.'
                )
            for entry in states:
                partition = entry.get("partition") if isinstance(entry, Mapping) else None
                cursor = entry.get("cursor") if isinstance(entry, Mapping) else None
                survey_id = partition.get("survey_id") if isinstance(partition, Mapping) else None
                if not isinstance(survey_id, str) or not isinstance(cursor, Mapping):
                    raise ConfigError(
                        f"The saved state for '{stream}' has an entry without a survey_id or cursor: "
                        "reset the stream."
                    )
                self._cursors[survey_id] = SurveyCursor.from_json(cursor)
        self._snapshot = self._build()

    def _build(self) -> dict[str, Any]:
        if not self._cursors:
            return {}
        return {
            "states": [
                {"partition": {"survey_id": survey_id}, "cursor": cursor.to_json()}
                for survey_id, cursor in sorted(self._cursors.items())
            ]
        }


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
