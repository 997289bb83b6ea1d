"""Reading a downloaded export: damage is found before parsing, every member is read, in order."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_qualtrics import export_file, zip_member
from source_qualtrics.export_file import (
    CorruptExport,
    iter_export_file,
    uncompressed_size,
    verify_export_file,
)
from unit_tests.builders import ndjson, response, zip_of

SV = "SV_aaaaaaaaaaaaaaa"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10**6), max_size=40), min_size=1, max_size=4),
    st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_every_member_is_read_in_the_order_qualtrics_wrote_it(
    tmp_path_factory: pytest.TempPathFactory, files: list[list[int]], method: int
) -> None:
    """Over a million records, Qualtrics writes `name.ndjson`, `name_1.ndjson`, ... into one zip."""
    path = tmp_path_factory.mktemp("zips") / "export.zip"
    with zipfile.ZipFile(path, "w", method) as archive:
        for number, ids in enumerate(files):
            name = "export.ndjson" if number == 0 else f"export_{number}.ndjson"
            archive.writestr(name, ndjson([{"responseId": f"R_{i}"} for i in ids]))
    verify_export_file(path)
    assert [r["responseId"] for r in iter_export_file(path, SV)] == [f"R_{i}" for ids in files for i in ids]


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
    verify_export_file(path)
    assert uncompressed_size(path) == len(data)
    assert [r["responseId"] for r in iter_export_file(path, SV)] == [f"R_{i:015d}" for i in range(500)]


def flip_byte_inside_member(archive: bytes) -> bytes:
    damaged = bytearray(archive)
    damaged[60] ^= 0xFF  # inside the first member's compressed data, after its 30 + name bytes header
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (flip_byte_inside_member, "inflate|CRC"),
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


def test_a_parse_error_mid_file_names_the_line_and_member(tmp_path: Path) -> None:
    good = ndjson([response(f"R_{i:015d}") for i in range(20)])
    path = write(tmp_path / "bad-line.zip", zip_of({"export.ndjson": good + b"not json\n" + good}))
    with pytest.raises(export_file.MalformedExportLine, match=r"line \d+ of export.ndjson"):
        list(iter_export_file(path, SV))


# -- zip_member: zlib-ng inflating what zipfile's directory describes ------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a.ndjson", "b.ndjson", "c.json"]), st.binary(max_size=5000), min_size=1
    ),
    st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_zlib_ng_inflates_every_member_to_what_zipfile_reads(
    tmp_path_factory: pytest.TempPathFactory, members: dict[str, bytes], method: int
) -> None:
    path = tmp_path_factory.mktemp("zips") / "export.zip"
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert zip_member.zlib is not None, "zlib-ng is a dependency: the fast path is what runs"
    with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        read = {
            m.filename: b"".join(zip_member.member_content(archive, handle, m)) for m in archive.infolist()
        }
    assert read == members


def test_inflated_pieces_stay_bounded_however_well_the_data_compresses(tmp_path: Path) -> None:
    data = b"{}\n" * 400_000  # 1.2 MB that deflate squeezes into a few kB
    path = write(tmp_path / "bomb.zip", zip_of({"export.ndjson": data}))
    with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        pieces = list(zip_member.member_content(archive, handle, archive.infolist()[0]))
    assert max(len(piece) for piece in pieces) <= zip_member.PIECE
    assert b"".join(pieces) == data


def test_without_zlib_ng_zipfile_reads_and_checks_the_same(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where no zlib-ng wheel exists, zipfile's own reader does the work, with the same checks."""
    monkeypatch.setattr(zip_member, "zlib", None)
    records = [response(f"R_{i:015d}") for i in range(300)]
    good = zip_of({"export.ndjson": ndjson(records)})
    assert list(iter_export_file(write(tmp_path / "good.zip", good), SV)) == records
    with pytest.raises(CorruptExport):
        verify_export_file(write(tmp_path / "bad.zip", flip_byte_inside_member(good)))
