"""Simulator configuration: data volume, credentials, timing and fault knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

# Requests per minute per endpoint kind when rate limiting is on (Qualtrics' published per-endpoint limits).
DEFAULT_RATE_LIMITS: dict[str, int] = {
    "export_start": 100,
    "export_progress": 1000,
    "export_file": 100,
    "history": 300,
    "eventsubscriptions": 120,
    "default": 3000,
}

# Knobs that may be changed at runtime through POST /__admin/faults (parsed by faults.KNOB_PARSERS).
RUNTIME_KNOBS = (
    "error_rate_5xx",
    "fail_exports",
    "drop_downloads",
    "corrupt_zips",
    "token_max_age_seconds",
    "blank_lines",
    "rate_limits",
    "rate_limit_rpm",
    "export_seconds",
    "export_seconds_by_survey",
    "export_seconds_per_1000_records",
    "export_record_cap",
    "export_byte_cap",
    "records_per_file",
    "export_forbidden_surveys",
    "export_missing_surveys",
    "forbidden_paths",
    "drop_responses",
    "latency_ms",
    "latency_jitter_ms",
    "max_in_flight",
)


@dataclass
class SimulatorConfig:
    """Everything that shapes the simulated tenant; all data derives from `seed`."""

    seed: int = 1
    surveys: int = 3
    responses_per_survey: int = 200
    in_progress_per_survey: int = 3
    # Of responses_per_survey, how many are generated test/preview responses (responseCounts.generated).
    generated_per_survey: int = 0
    # Of each survey's base responses, the fraction recorded (and last modified) within one week of the
    # year they span (a different week per survey); 0 spreads them evenly over the year.
    skew_week_fraction: float = 0.0
    # About this many keys in each finished response's `values` (data.extra_questions_for): questions
    # of the shapes that make real records wide are added after the six fixed ones. None (or 25 and
    # below) keeps the fixed six-question template.
    values_per_response: int | None = None
    token: str = "sim-token"
    page_size: int = 100
    export_seconds: float = 0.3
    rate_limits: bool = False
    # Overrides of DEFAULT_RATE_LIMITS (kinds: export_start, export_progress, export_file, default).
    rate_limit_rpm: dict[str, int] = field(default_factory=dict)
    error_rate_5xx: float = 0.0
    fail_exports: int = 0
    drop_downloads: int = 0
    corrupt_zips: int = 0
    token_max_age_seconds: float = 7 * 24 * 3600.0
    blank_lines: bool = True
    oauth_client_id: str = "sim-client"
    oauth_client_secret: str = "sim-secret"
    oauth_token_ttl: int = 3600
    datacenter: str = "sim1"
    # API paths (after /API/v3, shell-style patterns such as "/users" or "/directories/*/contacts")
    # answered 403, as for a token whose user lacks the permission or OAuth scope.
    forbidden_paths: list[str] = field(default_factory=list)
    # Export duration: export_seconds_by_survey[survey id] (else export_seconds), plus this much per
    # thousand selected records, so big exports take longer; percentComplete grows until then.
    export_seconds_by_survey: dict[str, float] = field(default_factory=dict)
    export_seconds_per_1000_records: float = 0.0
    # Largest export that succeeds (None = no cap): an export selecting more records, or writing more
    # uncompressed bytes, ends with status "failed" (Qualtrics fails exports over 1.8 GB).
    export_record_cap: int | None = None
    export_byte_cap: int | None = None
    # Records per file inside a zipped export; more go to {name}_1.{fmt}, {name}_2.{fmt}, ...
    records_per_file: int = 1_000_000
    # Surveys listed by /surveys whose POST export-responses answers 403 (no permission) or 404 (GSI_2).
    export_forbidden_surveys: list[str] = field(default_factory=list)
    export_missing_surveys: list[str] = field(default_factory=list)
    # A silent loss no other check catches: the next export of each named survey omits this many of its
    # responses (its oldest), yet completes as usual (the connector's completeness check must see it).
    drop_responses: dict[str, int] = field(default_factory=dict)
    # Distance to the datacenter (distance.py): every API request waits latency_ms plus up to
    # latency_jitter_ms at random; a credential's requests beyond max_in_flight at once answer 429.
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    max_in_flight: int | None = None

    # --- XM Directory and distributions at enterprise size (directory_scale.py); 0 keeps the small
    # fixed directory (12 + 7 contacts, 3 distributions per survey, 0-2 transactions per contact).
    contacts: int = 0  # contacts of the default directory
    mailing_lists: int = 20  # with `contacts`: lists of up to 1,000 of them
    distributions: int = 0  # in all, spread over the surveys
    history_years: float = 3.0  # send dates spread over this many years before now
    recipients_per_distribution: int = 20
    transactions: int = 0  # in all, on random contacts, in batches of `transactions_per_batch`
    transactions_per_batch: int = 200

    def rpm(self, kind: str) -> int:
        """Effective requests/minute for an endpoint kind."""
        merged = {**DEFAULT_RATE_LIMITS, **self.rate_limit_rpm}
        return merged.get(kind, merged["default"])
