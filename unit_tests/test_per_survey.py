from __future__ import annotations

import orjson
from qualtrics_simulator.data import (
    EPOCH_MS,
    KeyFilter,
    RecordFactory,
    SurveyInfo,
    extra_questions_for,
    survey_definition,
)

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import parse_config
from source_qualtrics.streams.per_survey import SurveyResponses
from source_qualtrics.streams.responses import to_record
from source_qualtrics.streams.survey_schema import METADATA_COLUMNS, OTHER_COLUMN, Column, survey_columns
from source_qualtrics.sync import SyncContext
from unit_tests.builders import (
    BASE_URL,
    TOKEN,
    FakeExportApi,
    config,
    envelope,
    ndjson,
    response,
    survey,
    zip_of,
)
from unit_tests.helpers import run_read
from unit_tests.test_survey_questions import definition

SV_A = "SV_aaaaaaaaaaaaaaa"


def full_definition() -> dict:  # type: ignore[type-arg]
    value = definition()
    value["Questions"]["QID3"] = {"QuestionType": "TE", "Selector": "SL", "QuestionText": "Why?"}
    value["Questions"]["QID4"] = {
        "QuestionType": "MC",
        "Selector": "MAVR",
        "QuestionText": "Which?",
        "Choices": {"1": {"Display": "A"}, "2": {"Display": "B"}},
    }
    value["Questions"]["QID5"] = {"QuestionType": "MC", "Selector": "NPS", "QuestionText": "Recommend?"}
    value["Questions"]["QID7"] = {
        "QuestionType": "Matrix",
        "Selector": "Likert",
        "SubSelector": "SingleAnswer",
        "QuestionText": "Rate",
        "Choices": {"1": {"Display": "Price"}, "2": {"Display": "Speed"}},
    }
    value["Blocks"]["BL_1"]["BlockElements"] += [
        {"Type": "Question", "QuestionID": qid} for qid in ("QID3", "QID4", "QID5", "QID7")
    ]
    value["SurveyFlow"] = {
        "Type": "Root",
        "Flow": [
            {"Type": "Group", "Flow": [{"Type": "EmbeddedData", "EmbeddedData": [{"Field": "segment"}]}]}
        ],
    }
    return value


def test_columns_follow_question_types_and_skip_trashed_questions() -> None:
    columns = {c.name: c.schema["type"][1] for c in survey_columns(full_definition())}
    assert columns == {
        "QID1": "integer",
        "QID1_2_TEXT": "string",
        "QID3_TEXT": "string",
        "QID4": "array",
        "QID5": "integer",
        "QID5_NPS_GROUP": "integer",
        "QID7_1": "integer",
        "QID7_2": "integer",
        "segment": "string",
    }


def test_a_per_survey_stream_is_discovered_without_an_export_and_reads_typed_rows(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    api.get(f"{BASE_URL}/survey-definitions/{SV_A}", json=envelope(full_definition()))
    raw = response("R_a00000000000001", QID1="2", QID4=["1"], QID7_1=3, segment="smb", QID99=5)
    export = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([raw])}))
    output = run_read(source, config(per_survey_streams=True), f"responses_{SV_A}")
    (record,) = [m.record.data for m in output.records]
    assert record["QID1"] == 2 and record["QID4"] == ["1"] and record["QID7_1"] == 3
    assert record["segment"] == "smb" and record.get("QID3_TEXT") is None
    assert record["_other"] == {"QID2": ["1", "3"], "QID99": 5, "ipAddress": "165.225.48.92"}
    assert record["responseId"] == "R_a00000000000001" and export.start.call_count == 1


# -- typed rows, field for field ----------------------------------------------------------------------


def coerced_column_by_column(record: dict, columns: list[Column]) -> dict:  # type: ignore[type-arg]
    """The typed row as first written (every column coerced in turn, then the rest): the reference."""
    row = {name: record.get(name) for name in METADATA_COLUMNS}
    values = record.get("values") or {}
    for column in columns:
        row[column.name] = column.coerce(values.get(column.name))
    known = {column.name for column in columns} | set(METADATA_COLUMNS) | {"_recordId"}
    other = {key: value for key, value in values.items() if key not in known}
    row[OTHER_COLUMN] = other or None
    return row


def typed_stream(columns: list[Column]) -> SurveyResponses:
    sync = SyncContext(QualtricsClient(BASE_URL, TOKEN), parse_config(config(per_survey_streams=True)))
    return SurveyResponses(sync, SV_A, columns)


def test_typed_rows_of_wide_responses_equal_coercing_every_column() -> None:
    """150-value responses of the simulator: the same keys in the same order, the same values, as
    the rows first written (from the `responses` record, every column coerced in turn)."""
    info = SurveyInfo(SV_A, 0, "Wide", "UR_1", 0, 0, seed=3, extra_questions=extra_questions_for(150))
    columns = survey_columns(survey_definition(info))
    stream = typed_stream(columns)
    factory = RecordFactory(info, KeyFilter(), with_last_modified=True)
    for slot in range(200):
        raw = orjson.loads(factory.record(f"R_{slot:015d}", slot, EPOCH_MS - 1000, version=slot % 3))
        record = to_record(SV_A, raw)
        assert len(record["values"]) > 100
        assert list(stream.shape(SV_A, raw).items()) == list(
            coerced_column_by_column(record, columns).items()
        )


def test_typed_rows_coerce_what_is_not_already_the_column_type() -> None:
    """Off-type values (text recodes, numbers as text, booleans, lists of numbers, junk), answers the
    definition does not declare, and an embedded data field named like a metadata column."""
    definition = full_definition()
    definition["Questions"]["QID8"] = {
        "QuestionType": "Slider",
        "QuestionText": "How much?",
        "Choices": {"1": {"Display": "Amount"}},
    }
    definition["Blocks"]["BL_1"]["BlockElements"].append({"Type": "Question", "QuestionID": "QID8"})
    definition["SurveyFlow"]["Flow"].append({"Type": "EmbeddedData", "EmbeddedData": [{"Field": "status"}]})
    columns = survey_columns(definition)
    stream = typed_stream(columns)
    answers: list[dict] = [  # type: ignore[type-arg]
        {"QID1": "2", "QID4": [1, "2"], "QID5": True, "QID7_1": 2.0, "QID8_1": 7, "segment": 5},
        {"QID1": "two", "QID4": "1", "QID5_NPS_GROUP": None, "QID7_2": "x", "QID8_1": "1.5", "QID99": 1},
        {"QID1": 3, "QID3_TEXT": "fine", "QID8_1": 2.5, "status": "embedded", "QID1_2_TEXT": 4},
        {},
    ]
    for number, values in enumerate(answers):
        raw = response(f"R_a0000000000000{number}", **values)
        reference = coerced_column_by_column(to_record(SV_A, raw), columns)
        assert list(stream.shape(SV_A, raw).items()) == list(reference.items())
    every_column = [*METADATA_COLUMNS, *(column.name for column in columns), OTHER_COLUMN]
    assert list(stream.shape(SV_A, {"responseId": "R_a00000000000008"})) == list(dict.fromkeys(every_column))
    row = stream.shape(SV_A, response("R_a00000000000009", QID1="2", QID4=[1], QID8_1=7))
    assert row["QID1"] == 2 and row["QID4"] == ["1"] and row["QID8_1"] == 7.0
    assert type(row["QID8_1"]) is float
