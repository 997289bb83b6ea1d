from __future__ import annotations

import json

from unit_tests.builders import BASE_URL, FakeExportApi, config, envelope, ndjson, response, survey, zip_of
from unit_tests.helpers import cursor_of, run_read, state_values

SV_A = "SV_aaaaaaaaaaaaaaa"


def corrupt(archive: bytes) -> bytes:
    """Flip bytes inside the compressed member so its CRC no longer matches."""
    middle = len(archive) // 3
    return archive[:middle] + bytes(b ^ 0xFF for b in archive[middle : middle + 8]) + archive[middle + 8 :]


def setup_survey(api) -> None:  # type: ignore[no-untyped-def]
    api.get(f"{BASE_URL}/surveys", json=envelope({"elements": [survey(SV_A)], "nextPage": None}))


def test_a_corrupt_zip_is_downloaded_again_before_any_record_is_emitted(source, api) -> None:  # type: ignore[no-untyped-def]
    setup_survey(api)
    records = [response(f"R_{i:015d}") for i in range(50)]
    good = zip_of({"a.ndjson": ndjson(records)})
    export = FakeExportApi(api, SV_A, good)
    api.get(export.file._url, [{"content": corrupt(good)}, {"content": good}])  # type: ignore[attr-defined]
    output = run_read(source, config(), "responses")
    ids = [m.record.data["responseId"] for m in output.records]
    assert ids == [r["responseId"] for r in records]


def test_a_malformed_line_costs_one_fresh_download_and_no_duplicate(source, api) -> None:  # type: ignore[no-untyped-def]
    setup_survey(api)
    records = [response(f"R_{i:015d}") for i in range(6)]
    lines = [json.dumps(r) for r in records]
    broken = zip_of(
        {"a.ndjson": ("\n".join(lines[:3] + ['{"responseId": "R_tr'] + lines[3:]) + "\n").encode()}
    )
    good = zip_of({"a.ndjson": ndjson(records, noise=False)})
    export = FakeExportApi(api, SV_A, good, token="tok")
    api.get(export.file._url, [{"content": broken}, {"content": good}])  # type: ignore[attr-defined]
    output = run_read(source, config(), "responses")
    ids = [m.record.data["responseId"] for m in output.records]
    assert ids == [r["responseId"] for r in records]
    assert cursor_of(state_values(output)[-1], SV_A)["continuationToken"] == "tok"


def test_a_line_that_stays_malformed_fails_the_survey_with_its_line_number(source, api) -> None:  # type: ignore[no-untyped-def]
    setup_survey(api)
    broken = zip_of({"Survey.ndjson": b'{"responseId": "R_000000000000001", "values": {}}\n[1, 2]\n'})
    FakeExportApi(api, SV_A, broken, token="never-stored")
    output = run_read(source, config(), "responses", expect_failure=True)
    message = " ".join(m.trace.error.message for m in output.errors)
    assert SV_A in message and "line 2 of Survey.ndjson" in message
    assert all(cursor_of(s, SV_A) is None for s in state_values(output)), "the cursor does not move"
