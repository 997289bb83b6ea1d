"""`qualtrics-simulator`: run the simulator as a process until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .config import SimulatorConfig
from .simulator import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="qualtrics-simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--surveys", type=int, default=3)
    p.add_argument("--responses", type=int, default=200, help="completed responses per survey")
    p.add_argument("--in-progress", type=int, default=3, help="in-progress responses per survey")
    p.add_argument("--generated", type=int, default=0, help="of --responses, generated test/preview ones")
    p.add_argument(
        "--skew-week-fraction",
        type=fraction,
        default=0.0,
        metavar="F",
        help="of each survey's responses, the fraction recorded (and last modified) within one week",
    )
    p.add_argument(
        "--values-per-response",
        type=int,
        metavar="N",
        help="about N keys in each response's values (matrix, multi-select, text and single-choice "
        "questions added after the fixed six, which give about 25)",
    )
    p.add_argument("--token", default="sim-token")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--export-seconds", type=float, default=0.3)
    p.add_argument(
        "--export-seconds-per-1000", type=float, default=0.0, help="extra seconds per 1000 records"
    )
    p.add_argument("--export-record-cap", type=int, help="exports selecting more records end 'failed'")
    p.add_argument(
        "--export-byte-cap", type=int, help="exports over this many uncompressed bytes end 'failed'"
    )
    p.add_argument(
        "--records-per-file", type=int, default=1_000_000, help="records per file in a zipped export"
    )
    p.add_argument("--rate-limits", action="store_true", help="enforce per-endpoint requests/minute")
    p.add_argument(
        "--rpm",
        action="append",
        default=[],
        metavar="KIND=N",
        help="override requests/minute for export_start, export_progress, export_file or default",
    )
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of API requests answered 500/503")
    p.add_argument("--latency-ms", type=float, default=0.0, help="every API request waits this long")
    p.add_argument("--latency-jitter-ms", type=float, default=0.0, help="plus up to this much at random")
    p.add_argument("--max-in-flight", type=int, help="a token's requests beyond this many at once get 429")
    p.add_argument("--fail-exports", type=int, default=0)
    p.add_argument("--drop-downloads", type=int, default=0)
    p.add_argument("--corrupt-zips", type=int, default=0)
    p.add_argument("--token-max-age", type=float, default=7 * 24 * 3600.0, help="token max age, s")
    p.add_argument("--no-blank-lines", action="store_true", help="no blank/{} lines in NDJSON exports")
    p.add_argument("--oauth-client-id", default="sim-client")
    p.add_argument("--oauth-client-secret", default="sim-secret")
    # XM Directory and distributions at enterprise size (see directory_scale.py)
    p.add_argument("--contacts", type=int, default=0, help="contacts in the default XM directory")
    p.add_argument("--mailing-lists", type=int, default=20, help="with --contacts: mailing lists")
    p.add_argument("--distributions", type=int, default=0, help="distributions in all, over the surveys")
    p.add_argument("--history-years", type=float, default=3.0, help="years the send dates spread over")
    p.add_argument("--recipients", type=int, default=20, help="recipients per distribution (at size)")
    p.add_argument("--transactions", type=int, default=0, help="contact transactions in all")
    p.add_argument("--transactions-per-batch", type=int, default=200)
    p.add_argument("--ready-file", type=Path, help="write the base URL here once listening")
    return p.parse_args(argv)


def fraction(text: str) -> float:
    """A number in [0, 1], for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def parse_rpm(items: list[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep or not value.isdigit():
            raise SystemExit(f"--rpm expects KIND=N, got {item!r}")
        limits[kind] = int(value)
    return limits


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        seed=args.seed,
        surveys=args.surveys,
        responses_per_survey=args.responses,
        in_progress_per_survey=args.in_progress,
        generated_per_survey=args.generated,
        skew_week_fraction=args.skew_week_fraction,
        values_per_response=args.values_per_response,
        token=args.token,
        page_size=args.page_size,
        export_seconds=args.export_seconds,
        export_seconds_per_1000_records=args.export_seconds_per_1000,
        export_record_cap=args.export_record_cap,
        export_byte_cap=args.export_byte_cap,
        records_per_file=args.records_per_file,
        rate_limits=args.rate_limits,
        rate_limit_rpm=parse_rpm(args.rpm),
        error_rate_5xx=args.error_rate,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        max_in_flight=args.max_in_flight,
        fail_exports=args.fail_exports,
        drop_downloads=args.drop_downloads,
        corrupt_zips=args.corrupt_zips,
        token_max_age_seconds=args.token_max_age,
        blank_lines=not args.no_blank_lines,
        oauth_client_id=args.oauth_client_id,
        oauth_client_secret=args.oauth_client_secret,
        contacts=args.contacts,
        mailing_lists=args.mailing_lists,
        distributions=args.distributions,
        history_years=args.history_years,
        recipients_per_distribution=args.recipients,
        transactions=args.transactions,
        transactions_per_batch=args.transactions_per_batch,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim = Simulator(config_from_args(args))
    with sim.serve(port=args.port, host=args.host) as server:
        if args.ready_file is not None:
            tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
            tmp.write_text(server.base_url + "\n")
            tmp.replace(args.ready_file)
        print(f"Qualtrics simulator listening on {server.base_url} (token: {args.token})", flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
