"""The docs' answer -> question -> option-text query, run against the DuckDB file `make demo` writes.

CI runs `make demo` before `make test` in the same virtualenv; elsewhere the file (or the `duckdb`
module) may be missing, and the test says so instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = ROOT / ".demo" / "demo.duckdb"
DOCS = ROOT / "docs" / "qualtrics.md"
HEADING = "**Answers with their question and option text**"


def docs_query() -> str:
    text = DOCS.read_text()
    start = text.index("```sql\n", text.index(HEADING)) + len("```sql\n")
    return text[start : text.index("```", start)]


def test_the_docs_join_gives_every_choice_answer_the_text_of_its_option() -> None:
    duckdb = pytest.importorskip(
        "duckdb", reason="the duckdb module is not installed (pip install '.[demo]')"
    )
    if not DEMO_DB.exists():
        pytest.skip(f"{DEMO_DB.relative_to(ROOT)} is missing: run `make demo` first")
    with duckdb.connect(str(DEMO_DB), read_only=True) as db:
        db.execute("SET search_path = 'qualtrics'")
        rows = db.execute(
            f"""
            SELECT count(*),
                   count(optiontext),
                   count(*) FILTER (WHERE optiontext IS NOT NULL AND optiontext <> label),
                   count(*) FILTER (WHERE subfield IS NOT NULL AND subquestiontext IS NOT NULL),
                   count(DISTINCT questionid) FILTER (WHERE optiontext IS NOT NULL)
            FROM ({docs_query()}) AS joined
            """
        ).fetchone()
    total, with_option, mismatched, matrix_rows, questions_with_options = rows
    assert total > 0 and with_option > 0
    assert mismatched == 0, "an option's text must be the label Qualtrics exported for the same answer"
    assert matrix_rows > 0, "matrix answers must find their statement"
    assert questions_with_options >= 4  # single and multiple choice, matrix, NPS (and the follow-up)
