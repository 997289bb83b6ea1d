"""A stream whose whole state is one timestamp: `{cursor_field: value}` (`surveys`, the counts stream)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from airbyte_cdk.sources.streams import IncrementalMixin


class SingleCursor(IncrementalMixin):
    """The state is the newest value of `cursor_field` the stream has emitted (kept as written)."""

    cursor_field: str
    _cursor: str | None = None

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {self.cursor_field: self._cursor} if self._cursor else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        cursor = (value or {}).get(self.cursor_field)
        self._cursor = cursor if isinstance(cursor, str) else None
