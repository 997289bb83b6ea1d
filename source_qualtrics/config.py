"""Turns the raw connector config into one validated, immutable object.

Every user mistake surfaces here as a ConfigError whose single line says what to change, so the
rest of the connector can trust its inputs.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from source_qualtrics.dates import DateTime, now, parse_instant
from source_qualtrics.errors import ConfigError
from source_qualtrics.pacing import DEFAULT_REQUESTS_PER_MINUTE

API_PATH = "/API/v3"
DEFAULT_MAX_CONCURRENT_EXPORTS = 4
# Requests in flight at once: at ~300 ms a request, 1,000 a minute needs about 5 (Little's law); 10 leaves
# room for slower links. Qualtrics publishes no cap; third parties report about 20 per token.
DEFAULT_MAX_CONCURRENT_REQUESTS = 10
DEFAULT_RESPONSES_PER_EXPORT = 250_000
DEFAULT_RECHECK_HOURS = 24
DEFAULT_IN_PROGRESS_LOOKBACK_DAYS = 183
# How long after sending a distribution's history still changes (see streams/distributions.py), and
# how many contacts one sync of contact_transactions reads on its first pass (streams/transactions.py).
DEFAULT_HISTORY_LOOKBACK_DAYS = 70
DEFAULT_CONTACT_TRANSACTIONS_PER_SYNC = 5000

_DATACENTER_ID = re.compile(r"^[a-z]{2,4}[0-9]{0,2}$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_QUESTION_ID = re.compile(r"^QID[0-9]+$")
_SURVEY_ID = re.compile(r"^SV_[A-Za-z0-9]{11,20}$")

ACCEPTED_DATACENTER_FORMS = (
    "a datacenter id such as 'fra1', a host such as 'fra1.qualtrics.com' or 'myorg.fra1.qualtrics.com', "
    "or a URL such as 'https://fra1.qualtrics.com/API/v3'"
)


@dataclass(frozen=True, repr=False)
class ApiToken:
    token: str


@dataclass(frozen=True, repr=False)
class OAuthClient:
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportOptions:
    """What each response export includes; None means Qualtrics' default (everything)."""

    question_ids: tuple[str, ...] | None = None
    embedded_data_ids: tuple[str, ...] | None = None
    survey_metadata_ids: tuple[str, ...] | None = None
    filter_id: str | None = None

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.question_ids is not None:
            body["questionIds"] = list(self.question_ids)
        if self.embedded_data_ids is not None:
            body["embeddedDataIds"] = list(self.embedded_data_ids)
        if self.survey_metadata_ids is not None:
            # the cursor is a recorded/modified date: an export without it could never move forward
            body["surveyMetadataIds"] = sorted({*self.survey_metadata_ids, "recordedDate"})
        if self.filter_id:
            body["filterId"] = self.filter_id
        return body


@dataclass(frozen=True)
class QualtricsConfig:
    """What the connector needs to know, already normalised."""

    base_url: str
    credentials: ApiToken | OAuthClient
    start_date: DateTime | None = None
    survey_ids: tuple[str, ...] | None = None
    max_concurrent_exports: int = DEFAULT_MAX_CONCURRENT_EXPORTS
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    export_options: ExportOptions = ExportOptions()
    per_survey_streams: bool = False
    responses_per_export: int = DEFAULT_RESPONSES_PER_EXPORT
    newest_first: bool = False
    skip_unchanged_surveys: bool = False
    unchanged_survey_recheck_hours: int = DEFAULT_RECHECK_HOURS
    in_progress_lookback_days: int = DEFAULT_IN_PROGRESS_LOOKBACK_DAYS
    # distribution and directory streams at enterprise size
    distribution_history_lookback_days: int = DEFAULT_HISTORY_LOOKBACK_DAYS
    contact_transactions_per_sync: int = DEFAULT_CONTACT_TRANSACTIONS_PER_SYNC

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def token_url(self) -> str:
        """OAuth tokens are minted at the datacenter's root, not under /API/v3."""
        return self.base_url[: -len(API_PATH)] + "/oauth2/token"

    def __repr__(self) -> str:  # never let the token reach a log line through repr()
        return f"QualtricsConfig(base_url={self.base_url!r}, survey_ids={self.survey_ids!r})"


def parse_config(raw: Mapping[str, Any]) -> QualtricsConfig:
    """Validate and normalise the user's config; raise ConfigError with a one-line fix otherwise."""
    if not isinstance(raw, Mapping):
        raise ConfigError("The configuration must be a JSON object.")
    base_url = normalize_datacenter(raw.get("datacenter"))
    credentials = _parse_credentials(raw.get("credentials"))
    config = QualtricsConfig(
        base_url=base_url,
        credentials=credentials,
        start_date=parse_start_date(raw.get("start_date")),
        survey_ids=_parse_survey_ids(raw.get("survey_ids")),
        max_concurrent_exports=_bounded_int(
            raw.get("max_concurrent_exports"), "Concurrent exports", DEFAULT_MAX_CONCURRENT_EXPORTS, 1, 32
        ),
        requests_per_minute=_bounded_int(
            raw.get("requests_per_minute"), "Requests per minute", DEFAULT_REQUESTS_PER_MINUTE, 10, 3000
        ),
        max_concurrent_requests=_bounded_int(
            raw.get("max_concurrent_requests"), "Concurrent requests", DEFAULT_MAX_CONCURRENT_REQUESTS, 1, 20
        ),
        export_options=ExportOptions(
            question_ids=_text_list(raw.get("question_ids"), "Question IDs", _QUESTION_ID, "QID1"),
            embedded_data_ids=_text_list(raw.get("embedded_data_ids"), "Embedded data fields"),
            survey_metadata_ids=_text_list(raw.get("survey_metadata_ids"), "Response metadata"),
            filter_id=_optional_text(raw.get("filter_id"), "Saved filter ID"),
        ),
        per_survey_streams=raw.get("per_survey_streams") is True,
        responses_per_export=_bounded_int(
            raw.get("responses_per_export"),
            "Responses per export window",
            DEFAULT_RESPONSES_PER_EXPORT,
            1000,
            1_000_000,
        ),
        newest_first=raw.get("newest_first") is True,
        skip_unchanged_surveys=raw.get("skip_unchanged_surveys") is True,
        unchanged_survey_recheck_hours=_bounded_int(
            raw.get("unchanged_survey_recheck_hours"),
            "Re-check unchanged surveys (hours)",
            DEFAULT_RECHECK_HOURS,
            1,
            720,
        ),
        in_progress_lookback_days=_bounded_int(
            raw.get("in_progress_lookback_days"),
            "In-progress responses: closed surveys looked at (days)",
            DEFAULT_IN_PROGRESS_LOOKBACK_DAYS,
            0,
            3660,
        ),
        distribution_history_lookback_days=_bounded_int(
            raw.get("distribution_history_lookback_days"),
            "Distribution history look-back (days)",
            DEFAULT_HISTORY_LOOKBACK_DAYS,
            1,
            3650,
        ),
        contact_transactions_per_sync=_bounded_int(
            raw.get("contact_transactions_per_sync"),
            "Contacts per sync for contact transactions",
            DEFAULT_CONTACT_TRANSACTIONS_PER_SYNC,
            100,
            10_000_000,
        ),
    )
    _check_against_spec(raw)
    return config


def _check_against_spec(raw: Mapping[str, Any]) -> None:
    """Whatever the checks above let through must still match spec.json (the platform's contract).

    The message names the setting and the rule, never the value: a value may be a secret.
    """
    normalised = dict(raw)
    if isinstance(raw.get("credentials"), Mapping):
        normalised["credentials"] = {"auth_type": "api_token", **raw["credentials"]}
    if isinstance(raw.get("survey_ids"), list):
        normalised["survey_ids"] = [
            item.strip() if isinstance(item, str) else item for item in raw["survey_ids"]
        ]
    error = jsonschema.exceptions.best_match(_spec_validator().iter_errors(normalised))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path) or "the configuration"
    rule = error.validator if isinstance(error.validator, str) else "schema"
    raise ConfigError(f"Setting '{where}' does not match the connector's spec ({rule}): check its value.")


@functools.lru_cache(maxsize=1)
def _spec_validator() -> jsonschema.protocols.Validator:
    text = resources.files("source_qualtrics").joinpath("spec.json").read_text(encoding="utf-8")
    schema = json.loads(text)["connectionSpecification"]
    return jsonschema.Draft7Validator(schema)


def normalize_datacenter(value: Any) -> str:
    """Accept a datacenter id, a host or a pasted URL; return `https://<host>/API/v3`.

    Plain `http://` is only for loopback hosts (tests, the simulator, the demo), so a token never
    travels unencrypted over a network.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"Datacenter is required: enter {ACCEPTED_DATACENTER_FORMS}.")
    text = value.strip()
    lowered = text.lower()
    if _DATACENTER_ID.match(lowered):
        return f"https://{lowered}.qualtrics.com{API_PATH}"
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigError(_bad_datacenter(value)) from None
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or not host:
        raise ConfigError(_bad_datacenter(value))
    scheme = parts.scheme.lower()
    if scheme == "http" and _is_loopback(host):
        netloc = f"[{host}]" if ":" in host else host
        return f"http://{netloc}{f':{port}' if port else ''}{API_PATH}"
    if scheme != "https" or not _is_qualtrics_host(host):
        raise ConfigError(_bad_datacenter(value))
    if port not in (None, 443):
        raise ConfigError(_bad_datacenter(value))
    return f"https://{host}{API_PATH}"


def parse_start_date(value: Any) -> DateTime | None:
    """ISO 8601 in UTC (a date alone means midnight UTC); absent means all history."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError("Start date must be a text such as '2024-01-01T00:00:00Z'.")
    text = value.strip()
    parsed = parse_instant(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?", text) else None
    if parsed is None:
        raise ConfigError(
            f"Start date {value!r} is not an ISO 8601 date-time: use a form such as '2024-01-01T00:00:00Z'."
        )
    if parsed > now():
        raise ConfigError(
            f"Start date {value!r} is in the future: pick a date in the past or leave it empty."
        )
    return parsed


def _parse_credentials(value: Any) -> ApiToken | OAuthClient:
    if not isinstance(value, Mapping):
        raise ConfigError("Credentials are required: choose 'API token' and paste your Qualtrics API token.")
    auth_type = value.get("auth_type", "api_token")
    if auth_type == "oauth2_client_credentials":
        client_id, client_secret = value.get("client_id"), value.get("client_secret")
        if not isinstance(client_id, str) or not client_id.strip():
            raise ConfigError(
                "OAuth client ID is empty: copy it from Qualtrics (Account Settings > Qualtrics IDs)."
            )
        if not isinstance(client_secret, str) or not client_secret.strip():
            raise ConfigError(
                "OAuth client secret is empty: paste the secret shown when the client was created."
            )
        scopes = value.get("scopes") or ""
        if not isinstance(scopes, str):
            raise ConfigError(
                "OAuth scopes must be a space-separated text such as 'read:surveys read:survey_responses'."
            )
        return OAuthClient(client_id.strip(), client_secret.strip(), tuple(scopes.split()))
    if auth_type != "api_token":
        raise ConfigError(
            f"Authentication type {auth_type!r} is not supported: "
            "choose 'API token' or 'OAuth client credentials'."
        )
    token = value.get("api_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(
            "API token is empty: copy it from Qualtrics under Account Settings > Qualtrics IDs > API."
        )
    return ApiToken(token.strip())


def _parse_survey_ids(value: Any) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("Survey IDs must be a list of survey ids such as 'SV_0fEV92PdRg8a2e9'.")
    cleaned: list[str] = []
    for item in value:
        survey_id = item.strip()
        if not _SURVEY_ID.match(survey_id):
            raise ConfigError(
                f"{item!r} is not a Qualtrics survey id: ids start with 'SV_' (see Account Settings > "
                "Qualtrics IDs, or the survey's URL)."
            )
        if survey_id not in cleaned:
            cleaned.append(survey_id)
    return tuple(cleaned)


def _text_list(
    value: Any, title: str, pattern: re.Pattern[str] | None = None, example: str = ""
) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigError(f"{title} must be a list of non-empty texts.")
    items = tuple(dict.fromkeys(item.strip() for item in value))
    bad = [item for item in items if pattern is not None and not pattern.match(item)]
    if bad:
        raise ConfigError(f"{title}: {', '.join(bad)} not in the expected form (such as '{example}').")
    return items


def _optional_text(value: Any, title: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{title} must be a text.")
    return value.strip() or None


def _bounded_int(value: Any, title: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{title} must be a whole number from {low} to {high}.")
    if not low <= value <= high:
        raise ConfigError(f"{title} is {value}: choose a number from {low} to {high}.")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_qualtrics_host(host: str) -> bool:
    if not host.endswith(".qualtrics.com"):
        return False
    labels = host[: -len(".qualtrics.com")].split(".")
    return all(_HOST_LABEL.match(label) for label in labels)


def _bad_datacenter(value: Any) -> str:
    return f"Datacenter {value!r} is not recognised: enter {ACCEPTED_DATACENTER_FORMS}."
