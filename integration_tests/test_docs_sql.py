"""Every `sql` block of the README and docs/ runs as written on the DuckDB file `make demo` writes.

The blocks are read from the documents themselves, so docs and tests cannot drift. PyAirbyte loads
Postgres with lowercase column names, where a quoted camelCase name (`"surveyId"`) fails; DuckDB
ignores case even in quotes, so that rule is checked on the text. CI runs `make demo` before
`make test`; elsewhere the DuckDB part skips when the file or `duckdb` is missing.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DEMO_DATABASE = ROOT / ".demo" / "demo.duckdb"
DEMO_SCHEMA = "qualtrics"
_SQL_BLOCK = re.compile(r"^([ \t]*)```sql\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
_QUOTED_WITH_CAPITALS = re.compile(r'"[^"]*[A-Z][^"]*"')


def documented_queries() -> list[Any]:
    queries = []
    for document in DOCUMENTS:
        for number, match in enumerate(_SQL_BLOCK.finditer(document.read_text()), start=1):
            sql = textwrap.dedent(match.group(2))
            first_line = sql.splitlines()[0].lstrip("- ").strip() if sql.strip() else ""
            name = first_line.split(":")[0] if sql.startswith("--") else f"block {number}"
            queries.append(pytest.param(sql, id=f"{document.name}: {name}"))
    return queries


QUERIES = documented_queries()


def test_the_documents_hold_the_queries_this_suite_checks() -> None:
    names = " | ".join(str(query.id) for query in QUERIES)
    for expected in (
        "qualtrics.md: Deleted responses",
        "qualtrics.md: Current answers",
        "qualtrics.md: Surveys whose warehouse disagrees with Qualtrics' counts, with the likely cause",
        "README.md: Current",
    ):
        assert expected in names, names


@pytest.mark.parametrize("sql", QUERIES)
def test_no_quoted_identifier_depends_on_case(sql: str) -> None:
    assert _QUOTED_WITH_CAPITALS.findall(sql) == [], "fails on Postgres as PyAirbyte loads it (lowercase)"


@pytest.fixture(scope="module")
def demo_database() -> Iterator[Any]:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (make demo installs it)")
    if not DEMO_DATABASE.is_file():
        pytest.skip(f"{DEMO_DATABASE.relative_to(ROOT)} does not exist: run make demo first")
    connection = duckdb.connect(str(DEMO_DATABASE), read_only=True)
    connection.execute(f"SET schema = '{DEMO_SCHEMA}'")
    yield connection
    connection.close()


@pytest.mark.parametrize("sql", QUERIES)
def test_the_query_runs_on_the_demo_database(sql: str, demo_database: Any) -> None:
    try:
        cursor = demo_database.execute(sql)
    except Exception as error:  # duckdb's errors share no importable base when duckdb may be absent
        pytest.fail(f"{error} (if the demo file predates this query, run make demo again)")
    assert cursor.description, "the query returns columns"
    cursor.fetchall()
