"""Property-based tests: no input makes the connector crash with an exception meant for developers."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from source_qualtrics.config import normalize_datacenter, parse_config
from source_qualtrics.errors import ConfigError, ExportFailed
from source_qualtrics.export_file import parse_records

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)

configs = st.fixed_dictionaries(
    {},
    optional={
        "datacenter": st.one_of(
            json_values,
            st.sampled_from(["fra1", "https://fra1.qualtrics.com", "http://127.0.0.1:1", "evil.com", ""]),
            st.text(max_size=40),
        ),
        "credentials": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"auth_type": st.sampled_from(["api_token", "oauth", ""]), "api_token": json_values}
            ),
        ),
        "start_date": st.one_of(
            json_values, st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=30)
        ),
        "survey_ids": st.one_of(json_values, st.lists(st.text(max_size=20), max_size=3)),
        "max_concurrent_exports": json_values,
        "requests_per_minute": json_values,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(configs)
def test_any_config_parses_or_gives_a_one_line_config_error(raw: dict[str, Any]) -> None:
    try:
        parse_config(raw)
    except ConfigError as error:
        assert str(error) and "\n" not in str(error) and "Traceback" not in str(error)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_datacenter_text_normalises_or_is_refused_clearly(text: str) -> None:
    try:
        url = normalize_datacenter(text)
    except ConfigError as error:
        assert "fra1" in str(error)
    else:
        assert url.endswith("/API/v3") and (url.startswith("https://") or url.startswith("http://"))
        assert url.startswith("https://") or "127." in url or "localhost" in url or "[::1]" in url


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=60), st.sampled_from([b"", b"{}", b'{"responseId": "R_1"}'])), max_size=8
    )
)
def test_the_export_line_parser_yields_objects_or_names_the_bad_line(lines: list[bytes]) -> None:
    stream = io.BytesIO(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    try:
        for record in parse_records(iter(lambda: stream.read(5), b""), "SV_fuzz", "fuzz.ndjson"):
            assert isinstance(record, dict)
    except ExportFailed as error:
        assert error.survey_id == "SV_fuzz" and "line " in error.reason and "fuzz.ndjson" in error.reason
