"""`make demo`: local Qualtrics simulator -> source-qualtrics -> DuckDB, through PyAirbyte.

It runs the main job end to end on an embedded default: a full sync of every stream, one useful
query (NPS per survey), then new and edited responses in the simulator and an incremental sync that
must bring exactly those changes. It exits non-zero if any of that does not hold, so CI can run it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402  (PyAirbyte reads the two variables above at import)
from sqlalchemy import text  # noqa: E402

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
        for name, count in sorted(counts.items()):
            print(f"  {name:<12} {count:>7} rows")
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
        print(f"\nOK: only the changes came across. DuckDB file: {WORKDIR / 'demo.duckdb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
