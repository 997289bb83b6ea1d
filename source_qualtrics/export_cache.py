"""Downloaded export files, kept for the length of one sync so one export can feed several streams.

`responses` and `question_answers` read the same exports when both are selected at the same cursors.
Each stream still runs inside its own STARTED..COMPLETE with its own STATE; the second one simply
finds the file the first one downloaded (same survey, same export body) instead of exporting again.
A file is deleted as soon as the last stream expected to read it is done with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


def export_key(survey_id: str, body: Mapping[str, Any]) -> tuple[str, bytes]:
    return survey_id, orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@dataclass
class ExportedFile:
    """A finished export's file on disk, with what the next sync needs from it."""

    survey_id: str
    body: dict[str, Any]
    path: Path
    continuation_token: str | None
    used_fallback: bool
    refetch: Callable[[], Path] | None = None
    readers_left: int = 0
    _on_release: Callable[[ExportedFile], None] | None = field(default=None, repr=False)

    def replace_file(self, path: Path) -> None:
        """A fresh download of the same export (the first one turned out damaged)."""
        self.path.unlink(missing_ok=True)
        self.path = path

    def release(self) -> None:
        """The reading stream is done; the file goes unless another stream will still read it."""
        if self._on_release is not None:
            self._on_release(self)
        else:
            self.path.unlink(missing_ok=True)


class ExportCache:
    """This sync's export files by (survey, export body); `readers` streams read each one."""

    def __init__(self, readers: int = 1) -> None:
        self.readers = readers
        self._files: dict[tuple[str, bytes], ExportedFile] = {}

    def add(
        self,
        survey_id: str,
        body: dict[str, Any],
        path: Path,
        continuation_token: str | None,
        *,
        used_fallback: bool,
        refetch: Callable[[], Path] | None,
    ) -> ExportedFile:
        exported = ExportedFile(
            survey_id,
            body,
            path,
            continuation_token,
            used_fallback,
            refetch,
            readers_left=self.readers - 1,
            _on_release=self._released,
        )
        if exported.readers_left > 0:
            self._files[export_key(survey_id, body)] = exported
        return exported

    def holds_files(self) -> bool:
        return bool(self._files)

    def take(self, survey_id: str, body: Mapping[str, Any]) -> ExportedFile | None:
        """The file another stream already downloaded for this very export, if it is still here."""
        key = export_key(survey_id, body)
        exported = self._files.get(key)
        if exported is None:
            return None
        exported.readers_left -= 1
        if exported.readers_left <= 0:
            del self._files[key]
        return exported

    def _released(self, exported: ExportedFile) -> None:
        if exported.readers_left <= 0 and export_key(exported.survey_id, exported.body) not in self._files:
            exported.path.unlink(missing_ok=True)

    def clear(self) -> None:
        for exported in self._files.values():
            exported.path.unlink(missing_ok=True)
        self._files.clear()
