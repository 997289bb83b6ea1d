"""The latency bench's table (`bench.latency`): figures run on different days share one table."""

from __future__ import annotations

from bench.bound import ALL_REQUESTS, PacingBound
from bench.latency import HEADER, Row, merged_table


def row(figure: str, latency_ms: float, seconds: float) -> Row:
    bound = PacingBound(100.0, ALL_REQUESTS, 1_500, {})
    return Row(figure, latency_ms, 100.0 if latency_ms else 0.0, seconds, bound, 4, 90.0, 0, 1.5, "abc1234")


def test_a_row_says_latency_jitter_and_wall_over_bound() -> None:
    line = row("(a) x", 250, 123.4).line()
    assert line.startswith("| (a) x | 250 ms + 0-100 ms | 123.4 | 100.0 (all requests) | 1.23x | 1,500 | 4 |")
    assert row("(a) x", 0, 50.0).line().startswith("| (a) x | 0 ms | 50.0 |")


def test_a_figure_run_again_replaces_its_rows_and_keeps_the_others() -> None:
    first = merged_table(
        "", [row("(b) nightly", 0, 10.0), row("(b) nightly", 250, 40.0), row("(a) x", 0, 20.0)]
    )
    again = merged_table(first, [row("(b) nightly", 0, 11.0), row("(a) x", 250, 30.0)])
    assert again.splitlines()[: len(HEADER)] == HEADER
    assert [line.split(" | ")[:3] for line in again.splitlines()[len(HEADER) :]] == [
        ["| (a) x", "0 ms", "20.0"],
        ["| (a) x", "250 ms + 0-100 ms", "30.0"],
        ["| (b) nightly", "0 ms", "11.0"],
        ["| (b) nightly", "250 ms + 0-100 ms", "40.0"],
    ]
