from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from airbyte_cdk.models import FailureType

from source_qualtrics.config import normalize_datacenter, parse_config
from source_qualtrics.errors import ConfigError
from unit_tests.builders import TOKEN, config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("fra1", "https://fra1.qualtrics.com/API/v3"),
        ("  FRA1 ", "https://fra1.qualtrics.com/API/v3"),
        ("ca1", "https://ca1.qualtrics.com/API/v3"),
        ("eu", "https://eu.qualtrics.com/API/v3"),
        ("gov1", "https://gov1.qualtrics.com/API/v3"),
        ("fra1.qualtrics.com", "https://fra1.qualtrics.com/API/v3"),
        ("myorg.fra1.qualtrics.com", "https://myorg.fra1.qualtrics.com/API/v3"),
        ("MyOrg.FRA1.Qualtrics.com", "https://myorg.fra1.qualtrics.com/API/v3"),
        ("https://fra1.qualtrics.com", "https://fra1.qualtrics.com/API/v3"),
        ("https://fra1.qualtrics.com/", "https://fra1.qualtrics.com/API/v3"),
        ("https://fra1.qualtrics.com/API/v3", "https://fra1.qualtrics.com/API/v3"),
        ("https://fra1.qualtrics.com/API/v3/", "https://fra1.qualtrics.com/API/v3"),
        ("https://myorg.iad1.qualtrics.com/Q/MyProjectsSection", "https://myorg.iad1.qualtrics.com/API/v3"),
        ("https://fra1.qualtrics.com:443/API/v3", "https://fra1.qualtrics.com/API/v3"),
        ("http://localhost:8080", "http://localhost:8080/API/v3"),
        ("http://localhost:8080/API/v3", "http://localhost:8080/API/v3"),
        ("http://127.0.0.1:41234/API/v3", "http://127.0.0.1:41234/API/v3"),
        ("http://127.5.6.7:9000", "http://127.5.6.7:9000/API/v3"),
        ("http://[::1]:9000/API/v3", "http://[::1]:9000/API/v3"),
    ],
)
def test_accepted_datacenter_forms_normalise_to_the_api_base_url(given: str, expected: str) -> None:
    assert normalize_datacenter(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        None,
        42,
        "evil.com",
        "https://evil.com/API/v3",
        "fra1.qualtrics.com.evil.com",
        "https://qualtrics.com",
        "http://fra1.qualtrics.com/API/v3",
        "http://10.0.0.5:8080",
        "http://example.org",
        "ftp://fra1.qualtrics.com",
        "https://user:pass@fra1.qualtrics.com",
        "https://fra1.qualtrics.com:8443",
        "https://fra1 .qualtrics.com",
        "https://-bad-.qualtrics.com",
        "https://fra1.qualtrics.com:notaport",
        "fra1_qualtrics",
    ],
)
def test_refused_datacenter_forms_say_which_forms_are_accepted(given: object) -> None:
    with pytest.raises(ConfigError) as raised:
        normalize_datacenter(given)
    assert raised.value.failure_type == FailureType.config_error
    assert "fra1" in str(raised.value) and "\n" not in str(raised.value)


def test_a_full_config_parses_into_typed_values() -> None:
    parsed = parse_config(
        config(
            start_date="2024-01-02T03:04:05Z",
            survey_ids=["SV_0fEV92PdRg8a2e9", "SV_0fEV92PdRg8a2e9", "SV_abcdefghijk12"],
            max_concurrent_exports=2,
            max_concurrent_requests=5,
        )
    )
    assert parsed.base_url == "https://fra1.qualtrics.com/API/v3"
    assert parsed.start_date == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parsed.survey_ids == ("SV_0fEV92PdRg8a2e9", "SV_abcdefghijk12")
    assert parsed.max_concurrent_exports == 2
    assert parsed.max_concurrent_requests == 5
    assert TOKEN not in repr(parsed)


def test_defaults_when_optional_fields_are_absent() -> None:
    parsed = parse_config(config())
    assert parsed.start_date is None and parsed.survey_ids is None and parsed.max_concurrent_exports == 4
    assert parsed.max_concurrent_requests == 10


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"start_date": "yesterday"}, "ISO 8601"),
        ({"start_date": "2999-01-01T00:00:00Z"}, "future"),
        ({"survey_ids": ["R_123"]}, "SV_"),
        ({"survey_ids": "SV_0fEV92PdRg8a2e9"}, "list"),
        ({"max_concurrent_exports": 0}, "1 to 32"),
        ({"max_concurrent_exports": 100}, "1 to 32"),
        ({"max_concurrent_requests": 0}, "1 to 20"),
        ({"max_concurrent_requests": 21}, "1 to 20"),
        ({"credentials": {"auth_type": "api_token", "api_token": "  "}}, "Qualtrics IDs"),
        ({"credentials": None}, "API token"),
        ({"distribution_history_lookback_days": 0}, "1 to 3650"),
        ({"distribution_history_lookback_days": "70"}, "whole number"),
        ({"contact_transactions_per_sync": 10}, "100 to 10000000"),
    ],
)
def test_bad_values_give_one_line_that_says_what_to_change(overrides: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config(**overrides))
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_enterprise_size_options_default_to_the_documented_values_and_parse() -> None:
    defaults = parse_config(config())
    assert defaults.distribution_history_lookback_days == 70
    assert defaults.contact_transactions_per_sync == 5000
    spec = json.loads((ROOT / "spec.json").read_text())["connectionSpecification"]["properties"]
    assert spec["distribution_history_lookback_days"]["default"] == 70
    assert spec["contact_transactions_per_sync"]["default"] == 5000
    parsed = parse_config(config(distribution_history_lookback_days=120, contact_transactions_per_sync=250))
    assert (parsed.distribution_history_lookback_days, parsed.contact_transactions_per_sync) == (120, 250)
