"""metadata.yaml names only files that exist: the registry icon and the documentation."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]


def test_the_icon_is_an_svg_file_beside_the_metadata() -> None:
    icon = ROOT / METADATA["icon"]
    assert icon.is_file(), icon
    assert ElementTree.parse(icon).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_the_documentation_url_points_at_the_documentation_in_the_repository() -> None:
    documentation = ROOT / METADATA["documentationUrl"]
    assert documentation.is_file() and "## 5. Streams" in documentation.read_text()


def test_suggested_streams_are_every_stream_but_the_one_that_pays_per_contact() -> None:
    from source_qualtrics.source import SourceQualtrics

    config = {"datacenter": "fra1", "credentials": {"auth_type": "api_token", "api_token": "x"}}
    names = {stream.name for stream in SourceQualtrics().streams(config)}
    suggested = METADATA["suggestedStreams"]["streams"]
    assert len(suggested) == len(set(suggested))
    assert set(suggested) == names - {"contact_transactions"}
