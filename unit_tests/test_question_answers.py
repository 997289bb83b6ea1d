from __future__ import annotations

from source_qualtrics.streams.question_answers import answer_rows
from source_qualtrics.streams.responses import to_record
from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of
from unit_tests.helpers import cursor_of, run_read, state_values

SV_A, SV_B = "SV_aaaaaaaaaaaaaaa", "SV_bbbbbbbbbbbbbbb"


def shaped() -> dict:  # type: ignore[type-arg]
    raw = response(
        "R_a00000000000001",
        QID2=["1", "3"],
        QID3_TEXT="Faster delivery",
        QID4_1=4,
        QID5=9,
        QID5_NPS_GROUP=3,
        QID6_4_TEXT="other reason",
        segment="enterprise",
    )
    raw["labels"].update(
        {"QID2": ["Dashboards", "Mobile app"], "QID4_1": "Good", "QID5_NPS_GROUP": "Promoter"}
    )
    return to_record(SV_A, raw)


def test_each_answer_becomes_a_row_with_its_question_part_and_label() -> None:
    rows = {row["answerKey"]: row for row in answer_rows(shaped())}
    assert rows["QID2#1"]["choice"] == "1" and rows["QID2#1"]["label"] == "Dashboards"
    assert rows["QID2#3"]["label"] == "Mobile app" and rows["QID2#3"]["questionId"] == "QID2"
    assert rows["QID3_TEXT"]["value"] == "Faster delivery" and rows["QID3_TEXT"]["subField"] == "TEXT"
    assert rows["QID4_1"]["subField"] == "1" and rows["QID4_1"]["valueNumber"] == 4.0
    assert rows["QID5_NPS_GROUP"]["label"] == "Promoter" and rows["QID5"]["value"] == "9"
    assert rows["QID6_4_TEXT"]["subField"] == "4_TEXT"
    assert rows["segment"]["kind"] == "embeddedData" and rows["segment"]["questionId"] is None
    assert not {"startDate", "recordedDate", "_recordId", "status"} & set(rows)
    assert all(row["responseId"] == "R_a00000000000001" and row["surveyId"] == SV_A for row in rows.values())


def test_selecting_both_streams_exports_each_survey_once(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(
        f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A), survey(SV_B)], "nextPage": None})
    )
    a = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}), token="ta")
    b = FakeExportApi(api, SV_B, zip_of({"b.ndjson": ndjson([response("R_b00000000000001")])}), token="tb")

    output = run_read(source, config(), "responses", "question_answers")

    assert a.start.call_count == 1 and b.start.call_count == 1
    streams = [m.record.stream for m in output.records]
    assert streams.count("responses") == 2 and streams.count("question_answers") == 2 * 3  # QID1 + 2 choices
    answer_states = [
        m.state.stream.stream_state
        for m in output.state_messages
        if m.state.stream.stream_descriptor.name == "question_answers"
    ]
    assert len(answer_states) >= 2, "one checkpoint per survey for the answers too"
    final = state_values(output)[-1]
    assert cursor_of(final, SV_B)["continuationToken"] == "tb"


def test_question_answers_alone_runs_its_own_exports(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    export = FakeExportApi(
        api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}), token="t"
    )
    output = run_read(source, config(), "question_answers")
    assert export.start.call_count == 1
    assert {m.record.data["answerKey"] for m in output.records} == {"QID1", "QID2#1", "QID2#3"}
    assert cursor_of(state_values(output)[-1], SV_A)["continuationToken"] == "t"


def test_streams_at_different_cursors_are_exported_separately(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    export = FakeExportApi(
        api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}), token="t2"
    )
    state = {"states": [{"partition": {"survey_id": SV_A}, "cursor": {"continuationToken": "t1"}}]}
    output = run_read(source, config(), "responses", "question_answers", state={"responses": state})
    assert export.start.call_count == 2, "question_answers has no state yet: it needs the full history"
    bodies = export.bodies
    assert bodies[0].get("continuationToken") == "t1" and "continuationToken" not in bodies[1]
    assert {m.record.stream for m in output.records} == {"responses", "question_answers"}
