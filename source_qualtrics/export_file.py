"""Reading a downloaded export file: prove it whole, then stream its NDJSON records.

Qualtrics sends a zip with one NDJSON member (or, uncompressed, the NDJSON itself). The file is checked
end to end (zip structure, each member's length and CRC-32) before any record is emitted, so a damaged
download costs a fresh download, never a wrong record. Records are then streamed in constant memory:
members are inflated here (zlib-ng) in large blocks, on a helper thread (`read_ahead`), while the
caller's thread splits lines and parses them. `zipfile`'s own member reader does the same work in
smaller steps with more Python per step; reading the member directly is what keeps inflating off the
parsing thread's back.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, Any, cast

import orjson

from source_qualtrics.errors import ExportFailed
from source_qualtrics.read_ahead import read_ahead

try:  # zlib-ng inflates and CRCs the same bytes about 2.7x faster than the stdlib's zlib
    from zlib_ng import zlib_ng as zlib
except ImportError:  # a platform without a zlib-ng wheel: same API, slower
    import zlib  # type: ignore[no-redef]

InflateError = cast(type[Exception], zlib.error)  # zlib-ng's stub calls it an instance

ZIP_MAGIC = b"PK\x03\x04"
SKIPPED_LINES = frozenset({b"", b"{}"})
READ_CHUNK = 1 << 18  # compressed bytes read at once
INFLATED_CHUNK = 1 << 20  # at most this many inflated bytes per chunk, however well the data compresses
# Measured on a 200k-response export: 1 MB / 4 MB chunks parse about as fast, but peak RSS is ~25 MB higher.
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, 22 bytes we take from the central directory, 2 lengths


class MalformedExportLine(ExportFailed):
    """A line of the export is not a JSON object: worth one fresh download before giving up."""


class CorruptExport(Exception):
    """The file is not a whole, readable export (bad CRC, wrong length, damaged zip structure)."""


def is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def verify_export_file(path: Path) -> None:
    """Inflate every zip member once and check its CRC and length, so damage is found before parsing."""
    if not is_zip(path):
        return  # an uncompressed export: nothing to verify beyond the download's length check
    with _open_zip(path) as (archive, handle):
        for member in _data_members(archive):
            for _ in member_chunks(handle, member):
                pass


def iter_export_file(path: Path, survey_id: str) -> Iterator[dict[str, Any]]:
    """Yield each NDJSON record of a zipped or raw export, skipping blank and `{}` lines."""
    if not is_zip(path):  # nothing to inflate, so no helper thread either
        with path.open("rb") as raw:
            yield from _iter_lines(iter(lambda: raw.read(READ_CHUNK), b""), survey_id, path.name)
        return
    with _open_zip(path) as (archive, handle):
        for member in _data_members(archive):
            # closed (helper stopped) before the handle it reads from is closed
            with closing(read_ahead(member_chunks(handle, member))) as chunks:
                yield from _iter_lines(chunks, survey_id, member.filename)


def member_chunks(handle: IO[bytes], member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's content, inflated a block at a time; CorruptExport if its CRC or length is wrong."""
    handle.seek(member.header_offset)
    header = handle.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size or header[:4] != ZIP_MAGIC:
        raise CorruptExport(f"member {member.filename!r} has no local header")
    _, name_length, extra_length = LOCAL_HEADER.unpack(header)
    handle.seek(member.header_offset + LOCAL_HEADER.size + name_length + extra_length)
    if member.flag_bits & 0x1:
        raise CorruptExport(f"member {member.filename!r} is encrypted")
    if member.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    elif member.compress_type != zipfile.ZIP_STORED:
        raise CorruptExport(f"member {member.filename!r} uses compression method {member.compress_type}")
    else:
        inflater = None
    crc, size, remaining = 0, 0, member.compress_size
    try:
        while remaining > 0:
            block = handle.read(min(READ_CHUNK, remaining))
            if not block:
                raise CorruptExport(f"member {member.filename!r} ends early")
            remaining -= len(block)
            pieces = [block] if inflater is None else _inflate(inflater, block)
            for piece in pieces:
                crc, size = zlib.crc32(piece, crc), size + len(piece)
                yield piece
        if inflater is not None:
            piece = inflater.flush()
            if not inflater.eof:
                raise CorruptExport(f"member {member.filename!r}: the compressed data is cut short")
            if piece:
                crc, size = zlib.crc32(piece, crc), size + len(piece)
                yield piece
    except InflateError as error:
        raise CorruptExport(f"member {member.filename!r} does not inflate ({error})") from None
    if size != member.file_size:
        raise CorruptExport(
            f"member {member.filename!r} has {size} bytes, its header says {member.file_size}"
        )
    if crc != member.CRC:
        raise CorruptExport(f"member {member.filename!r} fails its CRC check")


def _inflate(inflater: Any, block: bytes) -> Iterator[bytes]:
    """Inflate one compressed block in pieces of at most INFLATED_CHUNK bytes."""
    piece = inflater.decompress(block, INFLATED_CHUNK)
    while True:
        if piece:
            yield piece
        if not inflater.unconsumed_tail:
            return
        piece = inflater.decompress(inflater.unconsumed_tail, INFLATED_CHUNK)


@contextmanager
def _open_zip(path: Path) -> Iterator[tuple[zipfile.ZipFile, IO[bytes]]]:
    """The zip's directory and a handle on its bytes; damage to the zip's structure is CorruptExport."""
    with path.open("rb") as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise CorruptExport(f"the zip file is damaged ({error})") from None
        with archive:
            yield archive, handle


def _data_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return sorted((m for m in archive.infolist() if not m.is_dir()), key=lambda member: member.filename)


def _iter_lines(chunks: Iterator[bytes], survey_id: str, source: str) -> Iterator[dict[str, Any]]:
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


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
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
