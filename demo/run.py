"""`make demo`: local Qualtrics simulator -> source-qualtrics -> DuckDB, through PyAirbyte.

It runs the main job end to end on an embedded default: a full sync of every stream, one useful
query (NPS per survey), then new and edited responses in the simulator and an incremental sync that
must bring exactly those changes. It exits non-zero if any of that does not hold, so CI can run it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402  (PyAirbyte reads the two variables above at import)
from sqlalchemy import bindparam, text  # noqa: E402

from source_qualtrics.streams.question_answers import answer_rows  # noqa: E402
from testkit import CLI, simulator_config, simulator_process  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / ".demo"
SURVEYS, RESPONSES_PER_SURVEY = 4, 2500
NEW_RESPONSES, EDITED_RESPONSES = 25, 10

NPS_BY_SURVEY = """
WITH answers AS (
    SELECT surveyid, TRY_CAST(json_extract("values", '$.QID5') AS INTEGER) AS score
    FROM qualtrics.responses
)
SELECT s.name,
       count(a.score) AS answered,
       round(100.0 * (count(*) FILTER (WHERE a.score >= 9) - count(*) FILTER (WHERE a.score <= 6))
             / nullif(count(a.score), 0), 1) AS nps
FROM answers a JOIN qualtrics.surveys s ON s.id = a.surveyid
GROUP BY s.name
ORDER BY nps DESC
"""


def scalar(cache: ab.DuckDBCache, sql: str, **params: object) -> object:
    with cache.get_sql_engine().connect() as connection:
        return connection.execute(text(sql), params).scalar()


def heading(text_: str) -> None:
    print(f"\n=== {text_} ===", flush=True)


# Why a stream can show 0 rows in the demo (printed beside its count).
EMPTY_BECAUSE = {
    "response_ids": "ids are snapshotted only for surveys with deleted responses; none here",
}


def print_counts(counts: dict[str, int]) -> None:
    width = max(len(name) for name in counts)
    for name, count in sorted(counts.items()):
        note = f"  ({EMPTY_BECAUSE[name]})" if count == 0 and name in EMPTY_BECAUSE else ""
        print(f"  {name:<{width}} {count:>7,} rows{note}")


def stored_answer_keys(
    cache: ab.DuckDBCache, response_ids: list[str], current_only: bool
) -> set[tuple[str, str]]:
    """(responseId, answerKey) of `question_answers` rows, all of them or only the current answers."""
    query = text(
        "SELECT responseId, answerKey FROM qualtrics.question_answers WHERE responseId IN :ids"
        + (" AND _ab_cdc_deleted_at IS NULL" if current_only else "")
    ).bindparams(bindparam("ids", expanding=True))
    with cache.get_sql_engine().connect() as connection:
        return {(rid, key) for rid, key in connection.execute(query, {"ids": response_ids})}


def exported_answer_keys(cache: ab.DuckDBCache, response_ids: list[str]) -> set[tuple[str, str]]:
    """The answer keys each response has now, from its synced `responses` row."""
    query = text(
        'SELECT surveyId, responseId, "values" FROM qualtrics.responses WHERE responseId IN :ids'
    ).bindparams(bindparam("ids", expanding=True))
    keys = set()
    with cache.get_sql_engine().connect() as connection:
        for survey_id, response_id, values in connection.execute(query, {"ids": response_ids}):
            values = values if isinstance(values, dict) else json.loads(values)
            record = {"surveyId": survey_id, "responseId": response_id, "values": values}
            keys.update((response_id, row["answerKey"]) for row in answer_rows(record))
    return keys


def main() -> int:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    with simulator_process(
        WORKDIR, surveys=SURVEYS, responses=RESPONSES_PER_SURVEY, export_seconds=1.0
    ) as simulator:
        base_url, admin = simulator.base_url, simulator.admin
        source = ab.get_source("source-qualtrics", config=simulator_config(base_url), local_executable=CLI)
        source.check()
        source.select_all_streams()
        cache = ab.DuckDBCache(db_path=WORKDIR / "demo.duckdb", schema_name="qualtrics")

        heading(f"Full sync from the simulator ({base_url})")
        started = time.monotonic()
        first = source.read(cache=cache)
        print(f"{first.processed_records} records in {time.monotonic() - started:.1f} s")
        counts = {name: len(dataset) for name, dataset in first.streams.items()}
        print_counts(counts)
        expected_total = SURVEYS * RESPONSES_PER_SURVEY
        if counts.get("responses") != expected_total:
            print(f"FAILED: expected {expected_total} responses, got {counts.get('responses')}")
            return 1

        heading("NPS per survey (DuckDB)")
        with cache.get_sql_engine().connect() as connection:
            for name, answered, nps in connection.execute(text(NPS_BY_SURVEY)):
                print(f"  {name:<40} {answered:>6} answers   NPS {nps:>6}")

        heading(f"In Qualtrics: {NEW_RESPONSES} new responses and {EDITED_RESPONSES} edited ones")
        surveys = admin.survey_ids()
        added = admin.add_responses(surveys[0], NEW_RESPONSES)
        edited = admin.edit_responses(surveys[1], EDITED_RESPONSES)
        print(f"  added to {surveys[0]}: {len(added)}   edited in {surveys[1]}: {len(edited)}")
        answers_before_edit = stored_answer_keys(cache, edited, current_only=True)

        heading("Incremental sync")
        before = scalar(cache, "SELECT max(_airbyte_extracted_at) FROM qualtrics.responses")
        second = source.read(cache=cache)
        changed = scalar(
            cache,
            "SELECT count(*) FROM qualtrics.responses WHERE _airbyte_extracted_at > :before",
            before=before,
        )
        total = scalar(cache, "SELECT count(*) FROM qualtrics.responses")
        print(
            f"{second.processed_records} records came across ({changed} responses: new or edited); "
            f"the responses table now has {total} rows"
        )
        if changed != NEW_RESPONSES + EDITED_RESPONSES or total != expected_total + NEW_RESPONSES:
            print(
                f"FAILED: expected {NEW_RESPONSES + EDITED_RESPONSES} changed records and "
                f"{expected_total + NEW_RESPONSES} rows"
            )
            return 1

        heading("Answers an edit removed (question_answers tombstones)")
        answers_now = exported_answer_keys(cache, edited)
        lost = answers_before_edit - answers_now
        current = stored_answer_keys(cache, edited, current_only=True)
        tombstones = stored_answer_keys(cache, edited, current_only=False) - current
        example = ", ".join(f"{rid} {key}" for rid, key in sorted(lost)[:2])
        print(
            f"  The {len(edited)} edited responses lost {len(lost)} answers (e.g. {example}).\n"
            f"  The sync sent {len(tombstones)} tombstones for them (each answer key their survey allows and "
            f"they lack), {len(lost & tombstones)} of them on those {len(lost)} rows.\n"
            "  PyAirbyte merges a tombstone like any record (it does not delete on _ab_cdc_deleted_at), so "
            "the current answers are the rows WHERE _ab_cdc_deleted_at IS NULL:\n"
            f"  {len(lost & current)} lost answers among them, and they equal the edited responses' answers: "
            f"{current == answers_now}"
        )
        if not lost or lost & current or current != answers_now:
            print("FAILED: the current answers of the edited responses are not exactly what they hold now")
            return 1
        print(f"\nOK: only the changes came across. DuckDB file: {WORKDIR / 'demo.duckdb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
