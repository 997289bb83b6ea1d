"""The fast paths give exactly what the slow ones gave: same records, same lines, same state counts."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    Level,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given, settings
from hypothesis import strategies as st

from source_qualtrics.export_file import iter_export_file, split_lines
from source_qualtrics.run import MessageWriter, launch_read, record_line
from source_qualtrics.streams.responses import PROMOTED_INT, PROMOTED_TEXT, to_record
from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of

SV_A, SV_B = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb"

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


def cdk_line(message: AirbyteMessage) -> bytes:
    """What the CDK's entrypoint prints for a message."""
    return (AirbyteEntrypoint.airbyte_message_to_string(message) + "\n").encode()


def record_message(data: dict[str, Any], **extra: Any) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD,
        record=AirbyteRecordMessage(stream="responses", data=data, emitted_at=1_700_000_000_123, **extra),
    )


# -- record_line: the same bytes as the CDK's serialisation ---------------------------------------------


def test_a_response_record_serialises_to_the_cdk_line_without_its_null_columns() -> None:
    raw = response("R_a00000000000001", userLanguage=None, QID9=None, nested={"kept": None})
    raw["values"].pop("status")
    data = to_record(SV_A, raw)
    assert data["status"] is None and data["userLanguage"] is None

    line = record_line(record_message(data))

    assert line == cdk_line(record_message(data))
    parsed = orjson.loads(line)
    assert parsed["type"] == "RECORD" and parsed["record"]["stream"] == "responses"
    assert parsed["record"]["emitted_at"] == 1_700_000_000_123
    assert "status" not in parsed["record"]["data"] and "userLanguage" not in parsed["record"]["data"]
    assert parsed["record"]["data"]["values"]["QID9"] is None, (
        "only top-level nulls are dropped, as the CDK does"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6), json_values, max_size=6),
    st.sampled_from(["responses", 'a "quoted"\\ name', "réponses_SV_1", "tab\there"]),
    st.integers(0, 2**62),
)
def test_any_json_record_serialises_to_the_cdk_line(
    data: dict[str, Any], stream: str, emitted_at: int
) -> None:
    message = AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data=data, emitted_at=emitted_at)
    )
    assert record_line(message) == cdk_line(message)


def test_what_orjson_cannot_encode_or_the_fast_line_does_not_cover_is_left_to_the_cdk() -> None:
    assert record_line(record_message({"big": 2**70})) is None
    assert record_line(record_message({"a": 1}, namespace="ns")) is None
    float_time = AirbyteMessage(
        type=Type.RECORD,
        record=AirbyteRecordMessage(stream="s", data={"a": 1}, emitted_at=1.5),  # type: ignore[arg-type]
    )
    assert record_line(float_time) is None
    log = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="hello"))
    assert record_line(log) is None


def test_the_writer_keeps_messages_and_printed_text_in_order_and_flushes_non_records_at_once() -> None:
    sink = io.BytesIO()
    writer = MessageWriter(sink, clock=lambda: 0.0)
    log = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="hello"))
    with writer.carrying_text_output():
        writer.write(record_message({"n": 1}))
        print("printed")
        assert sink.getvalue() == b"", "records wait in the buffer"
        writer.write(log)
        assert sink.getvalue() == cdk_line(record_message({"n": 1})) + b"printed\n" + cdk_line(log)
        writer.write(record_message({"n": 2}))
    assert sink.getvalue().endswith(cdk_line(record_message({"n": 2}))), "flushed on the way out"


def test_no_line_is_lost_when_another_thread_logs_and_flushes_meanwhile() -> None:
    sink = io.BytesIO()
    writer = MessageWriter(sink)

    def log_lines() -> None:
        for number in range(300):
            writer.write_text(f"log {number}\n")
            writer.flush()

    thread = threading.Thread(target=log_lines)
    thread.start()
    for number in range(3000):
        writer.write(record_message({"n": number}))
    thread.join()
    writer.flush()
    lines = sink.getvalue().splitlines()
    assert sum(line.startswith(b"log ") for line in lines) == 300
    assert [orjson.loads(line)["record"]["data"]["n"] for line in lines if line.startswith(b"{")] == list(
        range(3000)
    )


# -- the whole read: the fast entry point against the CDK's launch ----------------------------------------


def write_inputs(folder: Path) -> list[str]:
    cursors = {"surveys": ("id", "lastModified"), "responses": ("responseId", "lastModifiedDate")}
    streams = [
        {
            "stream": {
                "name": name,
                "json_schema": {},
                "supported_sync_modes": ["full_refresh", "incremental"],
            },
            "sync_mode": "incremental",
            "cursor_field": [cursor],
            "destination_sync_mode": "append_dedup",
            "primary_key": [[key]],
        }
        for name, (key, cursor) in cursors.items()
    ]
    (folder / "config.json").write_text(json.dumps(config()))
    (folder / "catalog.json").write_text(json.dumps({"streams": streams}))
    return ["read", "--config", str(folder / "config.json"), "--catalog", str(folder / "catalog.json")]


def comparable(lines: list[bytes]) -> list[dict[str, Any]]:
    """Every non-LOG message (logs carry timings), with the record timestamps blanked out."""
    messages = []
    for line in lines:
        if not line.startswith(b"{"):
            continue
        message = orjson.loads(line)
        if message["type"] == "LOG":
            continue
        if message["type"] == "RECORD":
            message["record"]["emitted_at"] = 0
        if message["type"] == "TRACE":
            message["trace"]["emitted_at"] = 0
        messages.append(message)
    return messages


@pytest.fixture
def two_surveys(api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A), survey(SV_B)], "nextPage": None})
    )
    first = [response(f"R_a{i:014d}", userLanguage=None) for i in range(5)]
    second = [response(f"R_b{i:014d}", "2024-04-01T00:00:00.5Z") for i in range(3)]
    FakeExportApi(
        api, SV_A, zip_of({"a1.ndjson": ndjson(first[:2]), "a2.ndjson": ndjson(first[2:])}), token="t-a"
    )
    FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson(second)}), token="t-b")


def test_the_fast_read_emits_what_the_cdk_launch_emits(
    source, two_surveys, tmp_path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    args = write_inputs(tmp_path)
    launch(source, args)
    cdk_lines = capsys.readouterr().out.encode().splitlines(keepends=True)
    sink = io.BytesIO()
    written_directly: list[str] = []
    write_record = MessageWriter.write_record

    def spy(writer: MessageWriter, stream: str, data: dict[str, Any], emitted_at: int) -> bool:
        written_directly.append(data["responseId"])
        return write_record(writer, stream, data, emitted_at)

    monkeypatch.setattr(MessageWriter, "write_record", spy)

    launch_read(source, args, sink)

    fast_lines = sink.getvalue().splitlines(keepends=True)
    # All responses but the stream's first went past the CDK's loop, and nothing shows it:
    assert len(written_directly) == 7 and "R_a00000000000000" not in written_directly
    assert source.direct_records is None, "the direct route ends with the read"
    read_logs = [line for line in fast_lines if b"records from responses stream" in line]
    assert len(read_logs) == 1 and b'"Read 8 records from responses stream"' in read_logs[0]
    assert comparable(fast_lines) == comparable(cdk_lines)
    kinds = [m["type"] for m in comparable(fast_lines) if m["type"] in ("RECORD", "STATE")]
    assert kinds == ["RECORD"] * 2 + ["STATE"] + ["RECORD"] * 5 + ["STATE"] + ["RECORD"] * 3 + ["STATE"]
    statuses = [m["trace"].get("stream_status") for m in comparable(fast_lines) if m["type"] == "TRACE"]
    statuses = [(s["stream_descriptor"]["name"], s["status"]) for s in statuses if s]
    assert statuses == [
        (stream, status)
        for stream in ("surveys", "responses")
        for status in ("STARTED", "RUNNING", "COMPLETE")
    ]
    states = [m["state"] for m in comparable(fast_lines) if m["type"] == "STATE"]
    assert [s["sourceStats"]["recordCount"] for s in states] == [2.0, 5.0, 3.0]
    assert any(b'"type":"LOG"' in line for line in fast_lines), "logs still come out"


def test_records_written_directly_before_a_survey_fails_are_still_counted_on_state(  # type: ignore[no-untyped-def]
    source, api, tmp_path
) -> None:
    """The platform checks STATE counts against the records it received: none may be left out."""
    api.get(
        f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A), survey(SV_B)], "nextPage": None})
    )
    good = [json.dumps(response(f"R_a{i:014d}")) for i in range(4)]
    FakeExportApi(api, SV_A, zip_of({"a.ndjson": ("\n".join([*good, "[1, 2]"]) + "\n").encode()}))
    FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson([response(f"R_b{i:014d}") for i in range(3)])}))
    sink = io.BytesIO()

    with pytest.raises(AirbyteTracedException, match=SV_A):
        launch_read(source, write_inputs(tmp_path), sink)

    messages = [orjson.loads(line) for line in sink.getvalue().splitlines() if line.startswith(b"{")]
    records = [
        m["record"]["data"]["responseId"]
        for m in messages
        if m["type"] == "RECORD" and m["record"]["stream"] == "responses"
    ]
    counts = [
        m["state"]["sourceStats"]["recordCount"]
        for m in messages
        if m["type"] == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == "responses"
    ]
    assert sorted(records) == [f"R_a{i:014d}" for i in range(4)] + [f"R_b{i:014d}" for i in range(3)]
    assert sum(counts) == len(records) == 7


# -- the parsing helpers ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"{}", b"\n", b"\r\n", b" ", b"xyz"]), max_size=40), st.integers(1, 7))
def test_chunked_line_splitting_gives_the_lines_a_file_iterator_gives(parts: list[bytes], chunk: int) -> None:
    data = b"".join(parts)
    expected = [line.rstrip(b"\n") for line in io.BytesIO(data)]
    stream = io.BytesIO(data)
    assert list(split_lines(iter(lambda: stream.read(chunk), b""))) == expected


def test_an_export_file_yields_its_records_across_members_without_blank_lines(tmp_path: Path) -> None:
    records = [response(f"R_a{i:014d}") for i in range(7)]
    path = tmp_path / "export.zip"
    path.write_bytes(zip_of({"1.ndjson": ndjson(records[:4]), "2.ndjson": ndjson(records[4:]).rstrip(b"\n")}))
    assert list(iter_export_file(path, SV_A)) == records


def reference_to_record(survey_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`to_record` as it was written before it was flattened for speed."""
    values = raw.get("values")
    if not isinstance(values, dict):
        values = {}
    record: dict[str, Any] = {
        "surveyId": survey_id,
        "responseId": raw.get("responseId") or values.get("_recordId"),
    }
    for key in PROMOTED_TEXT:
        value = values.get(key)
        record[key] = value if isinstance(value, str) else None
    for key in PROMOTED_INT:
        value = values.get(key)
        record[key] = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    finished = values.get("finished")
    record["finished"] = bool(finished) if isinstance(finished, (int, bool)) else None
    modified = values.get("lastModifiedDate") or values.get("LastModifiedDate")
    record["lastModifiedDate"] = modified if isinstance(modified, str) else record["recordedDate"]
    record["values"] = values
    record["labels"] = raw.get("labels")
    record["displayedFields"] = raw.get("displayedFields")
    record["displayedValues"] = raw.get("displayedValues")
    return record


value_keys = st.sampled_from(
    [
        "recordedDate",
        "startDate",
        "endDate",
        "distributionChannel",
        "userLanguage",
        "status",
        "progress",
        "duration",
        "finished",
        "lastModifiedDate",
        "LastModifiedDate",
        "_recordId",
        "QID1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(value_keys, json_values, max_size=10) | json_values,
    st.dictionaries(
        st.sampled_from(["responseId", "labels", "displayedFields", "displayedValues"]), json_values
    ),
)
def test_the_flat_to_record_equals_the_reference(values: Any, rest: dict[str, Any]) -> None:
    raw = dict(rest, values=values)
    expected = reference_to_record(SV_A, raw)
    actual = to_record(SV_A, raw)
    assert actual == expected and list(actual) == list(expected)
    assert all(type(actual[key]) is type(expected[key]) for key in expected)


def test_every_column_of_a_record_is_declared_in_the_schema() -> None:
    schema = json.loads((Path(__file__).parents[1] / "source_qualtrics/schemas/responses.json").read_text())
    assert set(to_record(SV_A, response("R_a00000000000001"))) <= set(schema["properties"])
