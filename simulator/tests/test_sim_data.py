"""Determinism, id encoding and constant memory for very large surveys."""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from qualtrics_simulator import Simulator, SimulatorConfig
from qualtrics_simulator.data import survey_definition
from qualtrics_simulator.exports import BuiltFile, FileLimits, build_file, parse_options
from qualtrics_simulator.ids import ResponseIdCodec


def test_same_seed_same_ids_and_records() -> None:
    a = Simulator(SimulatorConfig(seed=5, surveys=2, responses_per_survey=50))
    b = Simulator(SimulatorConfig(seed=5, surveys=2, responses_per_survey=50))
    c = Simulator(SimulatorConfig(seed=6, surveys=2, responses_per_survey=50))
    assert a.survey_ids() == b.survey_ids() != c.survey_ids()
    sid = a.survey_ids()[0]
    assert list(a.response_ids(sid)) == list(b.response_ids(sid))
    assert not set(a.response_ids(sid)) & set(c.response_ids(c.survey_ids()[0]))


def test_response_id_codec_round_trips() -> None:
    codec = ResponseIdCodec(1, "SV_x")
    other = ResponseIdCodec(2, "SV_x")
    for slot in [0, 1, 2, 999_999, 1 << 40, (1 << 63) + 5]:
        rid = codec.encode(slot)
        assert rid.startswith("R_") and len(rid) == 17 and rid[2:].isalnum()
        assert codec.decode(rid) == slot
        assert other.decode(rid) is None
    assert codec.decode("R_garbage") is None
    assert len({codec.encode(s) for s in range(10_000)}) == 10_000


def test_million_responses_construct_lazily() -> None:
    tracemalloc.start()
    began = time.perf_counter()
    sim = Simulator(SimulatorConfig(seed=1, surveys=3, responses_per_survey=1_000_000))
    sid = sim.survey_ids()[0]
    ids = sim.response_ids(sid)
    assert len(ids) == 1_000_000
    first = list(itertools.islice(ids, 5))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - began < 1.0
    assert peak < 5_000_000, f"constructing allocated {peak} bytes"
    assert first[0] in ids and "R_notOneOfOurs12" not in ids
    assert sim.edit_responses(sid, [first[3]]) == [first[3]]


@pytest.mark.parametrize("records_per_file", [1_000_000, 2_500])
def test_large_export_streams_in_bounded_memory(tmp_path: Path, records_per_file: int) -> None:
    sim = Simulator(SimulatorConfig(seed=1, surveys=1, responses_per_survey=6_000))
    sid = sim.survey_ids()[0]
    opts = parse_options({"format": "ndjson"}, sid, sim.exports.tokens, sim.config)
    built = BuiltFile(tmp_path / "out.zip", "x", True, "ndjson")
    limits = FileLimits(record_cap=None, byte_cap=None, records_per_file=records_per_file, blank_lines=True)
    tracemalloc.start()
    build_file(sim.store.snapshot(sid), opts, built, limits, threading.Event())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert built.error is None
    assert peak < 20_000_000, f"peak {peak} bytes"
    per_member = []
    with zipfile.ZipFile(built.path) as archive:
        assert archive.namelist() == built.members
        for name in built.members:
            with archive.open(name) as member:
                per_member.append(sum(1 for line in member if line.strip() not in (b"", b"{}")))
    assert sum(per_member) == 6_000
    assert per_member == ([6_000] if records_per_file > 6_000 else [2_500, 2_500, 1_000])


def test_recorded_dates_are_in_the_year_before_2026() -> None:
    sim = Simulator(SimulatorConfig(seed=2, surveys=1, responses_per_survey=1000))
    snap = sim.store.snapshot(sim.survey_ids()[0])
    dates = [snap.recorded_ms(s) for s in range(snap.total)]
    assert dates == sorted(dates)
    assert dates[0] >= 1735689600000 and dates[-1] < 1767225600000


def _export_records(tmp_path: Path, sim: Simulator, body: dict | None = None) -> list[dict]:  # type: ignore[type-arg]
    sid = sim.survey_ids()[0]
    opts = parse_options(body or {"format": "ndjson"}, sid, sim.exports.tokens, sim.config)
    built = BuiltFile(tmp_path / "out.zip", "x", True, "ndjson")
    limits = FileLimits(record_cap=None, byte_cap=None, records_per_file=1_000_000, blank_lines=False)
    build_file(sim.store.snapshot(sid), opts, built, limits, threading.Event())
    assert built.error is None
    with zipfile.ZipFile(built.path) as archive, archive.open(built.members[0]) as member:
        return [json.loads(line) for line in member if line.strip()]


@pytest.mark.parametrize("values", [75, 150])
def test_wide_surveys_export_about_the_values_asked_in_the_shapes_of_real_records(
    tmp_path: Path, values: int
) -> None:
    sim = Simulator(SimulatorConfig(seed=3, surveys=1, responses_per_survey=300, values_per_response=values))
    records = _export_records(tmp_path, sim)
    mean = statistics.mean(len(record["values"]) for record in records)
    assert abs(mean - values) <= values * 0.1, mean
    questions = survey_definition(sim.store.survey(sim.survey_ids()[0]))["Questions"]
    kinds = {(q["QuestionType"], q["Selector"]) for q in questions.values()}
    assert {("Matrix", "Likert"), ("MC", "MAVR"), ("TE", "SL"), ("MC", "SAVR")} <= kinds
    for record in records:
        answers = {key for key in record["values"] if key.startswith("QID")}
        assert {key.split("_")[0] for key in answers} <= set(questions)  # every answer has its question
        lists = [key for key, value in record["values"].items() if isinstance(value, list)]
        assert lists and all(isinstance(record["labels"][key], list) for key in lists)
        assert any(key.endswith("_TEXT") for key in answers) or not any(
            q["QuestionType"] == "TE" for q in questions.values()
        )
        assert set(record["displayedValues"]) <= set(record["displayedFields"])
        assert answers - {"QID3_TEXT", "QID6"} <= set(record["displayedFields"])


def test_a_default_survey_keeps_its_six_questions_and_narrow_records(tmp_path: Path) -> None:
    default = Simulator(SimulatorConfig(seed=3, surveys=1, responses_per_survey=50))
    narrow = Simulator(SimulatorConfig(seed=3, surveys=1, responses_per_survey=50, values_per_response=25))
    records = _export_records(tmp_path, default)
    assert records == _export_records(tmp_path, narrow)
    assert {key.split("_")[0] for r in records for key in r["values"] if key.startswith("QID")} <= {
        f"QID{n}" for n in range(1, 7)
    }
    assert max(len(record["values"]) for record in records) <= 26


def test_a_wide_question_can_be_selected_by_id(tmp_path: Path) -> None:
    sim = Simulator(SimulatorConfig(seed=3, surveys=1, responses_per_survey=20, values_per_response=75))
    records = _export_records(tmp_path, sim, {"format": "ndjson", "questionIds": ["QID7", "QID8"]})
    answers = {key for record in records for key in record["values"] if key.startswith("QID")}
    assert answers == {f"QID7_{row}" for row in range(1, 6)} | {"QID8"}
