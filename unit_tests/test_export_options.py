from __future__ import annotations

import pytest

from source_qualtrics.config import parse_config
from source_qualtrics.errors import ConfigError
from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of
from unit_tests.helpers import run_read

SV_A = "SV_aaaaaaaaaaaaaaa"


def test_export_options_are_sent_and_recorded_date_is_always_kept(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    export = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}))
    options = {
        "question_ids": ["QID1", "QID5"],
        "embedded_data_ids": ["segment"],
        "survey_metadata_ids": ["endDate"],
    }
    run_read(source, config(**options), "responses")
    body = export.bodies[0]
    assert body["questionIds"] == ["QID1", "QID5"] and body["embeddedDataIds"] == ["segment"]
    assert body["surveyMetadataIds"] == ["endDate", "recordedDate"]
    assert body["sortByLastModifiedDate"] is True and body["allowContinuation"] is True


def test_a_filter_turns_incremental_into_a_recorded_date_window(source, api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))
    export = FakeExportApi(api, SV_A, zip_of({"a.ndjson": ndjson([response("R_a00000000000001")])}))
    cursor = {"continuationToken": "tok", "lastModifiedDate": "2024-03-01T10:00:00.5Z"}
    state = {"states": [{"partition": {"survey_id": SV_A}, "cursor": cursor}]}
    run_read(source, config(filter_id="FT_abc123"), "responses", state={"responses": state})
    body = export.bodies[0]
    assert body["filterId"] == "FT_abc123" and body["startDate"] == "2024-03-01T10:00:00Z"
    assert not {"continuationToken", "allowContinuation", "sortByLastModifiedDate"} & set(body)


def test_question_ids_must_look_like_qids() -> None:
    with pytest.raises(ConfigError, match="QID1"):
        parse_config(config(question_ids=["Q1"]))
