"""Reading a downloaded export: damage is found, the inflater agrees with zipfile, the helper is tidy."""

from __future__ import annotations

import io
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_qualtrics import export_file
from source_qualtrics.export_file import CorruptExport, iter_export_file, member_chunks, verify_export_file
from source_qualtrics.read_ahead import read_ahead
from unit_tests.builders import ndjson, response, zip_of

SV = "SV_aaaaaaaaaaaaaaa"


def members_as_read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        return {m.filename: b"".join(member_chunks(handle, m)) for m in archive.infolist()}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a.ndjson", "b.ndjson", "c.json"]), st.binary(max_size=3000), min_size=1
    ),
    st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_members_inflate_to_what_zipfile_reads(
    tmp_path_factory: pytest.TempPathFactory, members: dict[str, bytes], method: int
) -> None:
    path = tmp_path_factory.mktemp("zips") / "export.zip"
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert members_as_read(path) == members
    verify_export_file(path)


def test_a_zip_written_as_a_stream_with_data_descriptors_and_zip64_reads_whole(tmp_path: Path) -> None:
    """Sizes come from the central directory, so streamed zips (sizes after the data) read the same."""
    data = ndjson([response(f"R_{i:015d}") for i in range(500)])

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk) -> int:  # type: ignore[no-untyped-def]
            self.buffer += chunk
            return len(chunk)

    sink = Unseekable()
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive,  # type: ignore[arg-type]
        archive.open("export.ndjson", "w", force_zip64=True) as member,
    ):
        member.write(data)
    path = write(tmp_path / "streamed.zip", bytes(sink.buffer))
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].flag_bits & 0x08  # the data descriptor is really there
    assert members_as_read(path) == {"export.ndjson": data}
    assert [r["responseId"] for r in iter_export_file(path, SV)] == [f"R_{i:015d}" for i in range(500)]


def test_inflated_pieces_stay_bounded_however_well_the_data_compresses(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export_file, "INFLATED_CHUNK", 1000)
    data = b"{}\n" * 100_000  # 300 kB that deflate squeezes into a few hundred bytes
    path = write(tmp_path / "bomb.zip", zip_of({"export.ndjson": data}))
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        pieces = list(member_chunks(handle, archive.infolist()[0]))
    assert max(len(piece) for piece in pieces) <= 1000
    assert b"".join(pieces) == data


def flip_byte_inside_member(archive: bytes) -> bytes:
    damaged = bytearray(archive)
    damaged[60] ^= 0xFF  # inside the first member's compressed data, after its 30 + name bytes header
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (flip_byte_inside_member, "member"),
        (lambda data: data[: len(data) // 2], "damaged"),  # the central directory is gone
        (lambda data: data[:-10], "damaged"),
    ],
    ids=["flipped byte", "cut in half", "end cut off"],
)
def test_damage_is_found_before_parsing(tmp_path: Path, damage, says: str) -> None:  # type: ignore[no-untyped-def]
    good = zip_of({"export.ndjson": ndjson([response(f"R_{i:015d}") for i in range(300)])})
    path = write(tmp_path / "bad.zip", damage(good))
    with pytest.raises(CorruptExport, match=says):
        verify_export_file(path)


def test_a_crc_that_does_not_match_the_content_is_caught(tmp_path: Path) -> None:
    """Rewrite the stored CRC in both headers: the data inflates fine, only the checksum disagrees."""
    good = zip_of({"export.ndjson": b'{"a":1}\n'})
    crc = zlib.crc32(b'{"a":1}\n').to_bytes(4, "little")
    assert good.count(crc) == 2
    path = write(tmp_path / "crc.zip", good.replace(crc, bytes(b ^ 1 for b in crc)))
    with pytest.raises(CorruptExport, match="CRC"):
        verify_export_file(path)
    with pytest.raises(CorruptExport, match="CRC"):
        list(iter_export_file(path, SV))


def test_an_uncompressed_export_streams_as_is(tmp_path: Path) -> None:
    records = [response(f"R_{i:015d}") for i in range(50)]
    path = write(tmp_path / "export.ndjson", ndjson(records))
    verify_export_file(path)
    assert list(iter_export_file(path, SV)) == records


# -- the read-ahead helper ------------------------------------------------------------------------------


def helpers_alive() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "export-read-ahead")


def test_read_ahead_keeps_order_and_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    chunks = [bytes([i]) * 10 for i in range(50)] + [b""]
    assert list(read_ahead(iter(chunks))) == chunks[:-1]
    assert sys.getswitchinterval() == before
    assert helpers_alive() == 0


def test_read_ahead_raises_the_producers_error_in_the_consumer() -> None:
    def failing() -> Iterator[bytes]:
        yield b"one"
        raise CorruptExport("member 'x' fails its CRC check")

    got: list[bytes] = []
    with pytest.raises(CorruptExport, match="CRC"):
        for chunk in read_ahead(failing()):
            got.append(chunk)
    assert got == [b"one"]
    assert helpers_alive() == 0


def test_closing_read_ahead_early_stops_the_helper_even_when_the_producer_is_endless() -> None:
    produced = 0

    def endless() -> Iterator[bytes]:
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 100

    before = sys.getswitchinterval()
    chunks = read_ahead(endless(), depth=2)
    assert next(chunks) == b"x" * 100
    chunks.close()
    assert helpers_alive() == 0
    assert produced <= 5  # the helper ran at most `depth` chunks (and one in hand) ahead
    assert sys.getswitchinterval() == before


def test_a_parse_error_mid_file_leaves_no_helper_behind(tmp_path: Path) -> None:
    good = ndjson([response(f"R_{i:015d}") for i in range(20)])
    path = write(tmp_path / "bad-line.zip", zip_of({"export.ndjson": good + b"not json\n" + good}))
    with pytest.raises(export_file.MalformedExportLine, match=r"line \d+ of export.ndjson"):
        list(iter_export_file(path, SV))
    assert helpers_alive() == 0


def test_the_stdlib_zlib_fallback_reads_and_checks_the_same(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where no zlib-ng wheel exists the stdlib's zlib does the work, with the same checks."""
    assert export_file.zlib is not zlib  # zlib-ng is what normally runs
    monkeypatch.setattr(export_file, "zlib", zlib)
    monkeypatch.setattr(export_file, "InflateError", zlib.error)
    records = [response(f"R_{i:015d}") for i in range(300)]
    good = zip_of({"export.ndjson": ndjson(records)})
    assert list(iter_export_file(write(tmp_path / "good.zip", good), SV)) == records
    with pytest.raises(CorruptExport, match="member"):
        verify_export_file(write(tmp_path / "bad.zip", flip_byte_inside_member(good)))
