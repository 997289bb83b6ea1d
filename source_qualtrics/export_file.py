"""Reading a downloaded export file: prove it whole, then stream its NDJSON records.

Qualtrics sends a zip whose members are NDJSON files (more than one when an export holds over a
million records: `{name}.ndjson`, `{name}_1.ndjson`, ...), or, uncompressed, the NDJSON itself. Every
member is inflated once and checked against its CRC-32 and length before any record is emitted, so a
damaged download costs a fresh download, never a wrong record. Records are then streamed from the
members' content in bounded pieces, so memory stays flat whatever the size. `zipfile` reads the
archive's directory; `zip_member.py` inflates (zlib-ng, about twice as fast as the stdlib).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from source_qualtrics.errors import ExportFailed
from source_qualtrics.zip_member import DamagedMember, member_content

ZIP_MAGIC = b"PK\x03\x04"
SKIPPED_LINES = frozenset({b"", b"{}"})  # real exports contain both
READ_CHUNK = 1 << 18  # inflated bytes per read: larger blocks measured no faster, and cost memory


class MalformedExportLine(ExportFailed):
    """A line of the export is not a JSON object: worth one fresh download before giving up."""


class CorruptExport(Exception):
    """The file is not a whole, readable export (bad CRC, wrong length, damaged zip structure)."""


def is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def verify_export_file(path: Path) -> None:
    """Inflate every zip member once and check its length and CRC, so damage is found before parsing."""
    if not is_zip(path):
        return  # an uncompressed export: the download's length check is all there is
    for _ in _contents(path):
        pass


def uncompressed_size(path: Path) -> int:
    """Bytes of NDJSON an export file holds, read from the zip directory without inflating anything."""
    if not is_zip(path):
        return path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def iter_export_file(path: Path, survey_id: str) -> Iterator[dict[str, Any]]:
    """Yield each NDJSON record of a zipped or raw export, skipping blank and `{}` lines."""
    if not is_zip(path):
        with path.open("rb") as raw:
            yield from parse_records(iter(lambda: raw.read(READ_CHUNK), b""), survey_id, path.name)
        return
    for name, pieces in _members(path):
        yield from parse_records(pieces, survey_id, name)


def _members(path: Path) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Each member's name and content, in the order Qualtrics wrote them (name.ndjson, name_1.ndjson...)."""
    try:
        with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            for member in archive.infolist():
                if not member.is_dir():
                    yield member.filename, _undamaged(member_content(archive, handle, member))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CorruptExport(f"the zip file is damaged ({error})") from None


def _contents(path: Path) -> Iterator[bytes]:
    for _, pieces in _members(path):
        yield from pieces


def _undamaged(pieces: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from pieces
    except DamagedMember as error:
        raise CorruptExport(str(error)) from None


def parse_records(chunks: Iterable[bytes], survey_id: str, source: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of one NDJSON member's content; a line that is not one is MalformedExportLine."""
    loads = orjson.loads
    for number, line in enumerate(split_lines(chunks), start=1):
        stripped = line.strip()
        if stripped in SKIPPED_LINES:
            continue
        try:
            record = loads(stripped)
        except orjson.JSONDecodeError:
            raise MalformedExportLine(survey_id, f"line {number} of {source} is not valid JSON") from None
        if not isinstance(record, dict):
            raise MalformedExportLine(survey_id, f"line {number} of {source} is not a JSON object")
        yield record


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a chunked byte stream (split on b"\\n", like iterating a binary file).

    `bytes.split` cuts a whole chunk in C; only a line that straddles two chunks is joined in Python.
    """
    tail = b""
    for chunk in chunks:
        lines = (tail + chunk if tail else chunk).split(b"\n")
        tail = lines.pop()
        yield from lines
    if tail:
        yield tail
