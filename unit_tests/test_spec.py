from __future__ import annotations

import json
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from airbyte_cdk.models import ConnectorSpecificationSerializer

from source_qualtrics.source import SourceQualtrics

ROOT = Path(__file__).resolve().parent.parent
ROOT_SPEC = json.loads((ROOT / "spec.json").read_text())


def test_the_installed_package_serves_exactly_the_root_spec_json() -> None:
    spec = SourceQualtrics().spec(logging.getLogger("test"))
    served = ConnectorSpecificationSerializer.dump(spec)
    assert served["connectionSpecification"] == ROOT_SPEC["connectionSpecification"]


def test_a_built_wheel_carries_the_same_spec_json(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("airbyte_source_qualtrics-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert json.loads(archive.read("source_qualtrics/spec.json")) == ROOT_SPEC
        names = archive.namelist()
    assert "source_qualtrics/schemas/responses.json" in names


def test_every_property_has_a_title_description_and_order() -> None:
    properties = ROOT_SPEC["connectionSpecification"]["properties"]
    orders = [value["order"] for value in properties.values()]
    assert len(set(orders)) == len(orders)
    for name, value in properties.items():
        assert value.get("title") and value.get("description"), name
    token = properties["credentials"]["oneOf"][0]["properties"]["api_token"]
    assert token["airbyte_secret"] is True
