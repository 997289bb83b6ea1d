"""The console script prints its URL, serves, and exits 0 on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

ARGS = "--port 0 --seed 4 --surveys 2 --responses 10 --token cli-token --rate-limits --rpm default=2"


def test_cli_serves_and_stops_cleanly(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "qualtrics_simulator.cli", *ARGS.split(), "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/API/v3)\b", line)
        assert match, line
        base_url = match.group(1)
        assert ready.read_text().strip() == base_url
        assert line.startswith("Qualtrics simulator listening on ")
        headers = {"X-API-TOKEN": "cli-token"}
        response = requests.get(base_url + "/surveys", headers=headers, timeout=5)
        assert len(response.json()["result"]["elements"]) == 2
        statuses = [
            requests.get(base_url + "/whoami", headers=headers, timeout=5).status_code for _ in range(2)
        ]
        assert statuses == [200, 429]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()


def test_large_export_flags_reach_the_config() -> None:
    from qualtrics_simulator.cli import config_from_args, parse_args

    args = "--generated 4 --export-record-cap 90 --export-byte-cap 5000 --records-per-file 30"
    config = config_from_args(parse_args([*args.split(), "--export-seconds-per-1000", "2.5"]))
    assert (config.generated_per_survey, config.export_record_cap, config.export_byte_cap) == (4, 90, 5000)
    assert (config.records_per_file, config.export_seconds_per_1000_records) == (30, 2.5)


def test_misbehaviour_flags_reach_the_config_and_are_off_by_default() -> None:
    from qualtrics_simulator.cli import config_from_args, parse_args

    default = config_from_args(parse_args([]))
    assert (default.limited_export_order, default.next_page_host, default.missing_paths) == (
        "documented",
        None,
        [],
    )
    flags = ["--limited-export-order", "newest_first", "--next-page-host", "az1.qualtrics.com"]
    config = config_from_args(parse_args([*flags, "--missing-path", "/divisions", "--missing-path", "/x"]))
    assert (config.limited_export_order, config.next_page_host) == ("newest_first", "az1.qualtrics.com")
    assert config.missing_paths == ["/divisions", "/x"]
    assert (default.no_history_distributions, default.history_timeout_page_size) == ([], None)
    history = config_from_args(
        parse_args(["--no-history-distribution", "EMD_1", "--history-timeout-page-size", "20"])
    )
    assert (history.no_history_distributions, history.history_timeout_page_size) == (["EMD_1"], 20)
