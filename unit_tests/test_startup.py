"""The start-up shortcut (startup.py) changes nothing a message looks like, and still takes effect."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Serialises and loads one of each message family the connector writes or reads, in a fresh interpreter.
PROBE = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "shortcut":
        import source_qualtrics  # applies the shortcut before airbyte-cdk is imported
    from airbyte_cdk.models import (
        AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, ConnectorSpecificationSerializer,
        AirbyteStateMessageSerializer,
    )
    import serpyco_rs._utils
    spec = {"documentationUrl": "https://example.com", "connectionSpecification": {"type": "object"}}
    catalog = {"streams": [{"stream": {"name": "responses", "json_schema": {}, "supported_sync_modes":
        ["incremental"]}, "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
        "cursor_field": ["lastModifiedDate"], "primary_key": [["responseId"]]}]}
    state = {"type": "STREAM", "stream": {"stream_descriptor": {"name": "responses"},
        "stream_state": {"states": [{"partition": {"survey_id": "SV_1"}, "cursor": {"t": "x"}}]}},
        "sourceStats": {"recordCount": 3.0}}
    messages = [
        {"type": "RECORD", "record": {"stream": "responses", "data": {"a": 1, "b": None}, "emitted_at": 1}},
        {"type": "STATE", "state": state},
        {"type": "LOG", "log": {"level": "INFO", "message": "hello"}},
        {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1.0, "error": {"message": "m",
            "internal_message": "i", "failure_type": "config_error"}}},
        {"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 1.0, "stream_status": {
            "stream_descriptor": {"name": "responses"}, "status": "RUNNING"}}},
        {"type": "SPEC", "spec": spec},
    ]
    out = [AirbyteMessageSerializer.dump(AirbyteMessageSerializer.load(m)) for m in messages]
    out.append(ConfiguredAirbyteCatalogSerializer.dump(ConfiguredAirbyteCatalogSerializer.load(catalog)))
    out.append(ConnectorSpecificationSerializer.dump(ConnectorSpecificationSerializer.load(spec)))
    out.append(AirbyteStateMessageSerializer.dump(AirbyteStateMessageSerializer.load(state)))
    skipped = serpyco_rs._utils.get_attributes_doc.__wrapped__.__name__ == "no_attribute_docstrings"
    print(json.dumps({"messages": out, "skipped": skipped}, sort_keys=True))
    """
)


def probe(mode: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(run.stdout)


def test_messages_serialise_and_load_exactly_as_without_the_shortcut() -> None:
    plain, shortcut = probe("plain"), probe("shortcut")
    assert not plain["skipped"]
    assert shortcut["messages"] == plain["messages"]
    assert len(plain["messages"]) == 9


def test_the_shortcut_takes_effect_with_the_pinned_serpyco() -> None:
    """If serpyco-rs stops going through `attributes_doc`, this says the start-up saving is gone."""
    assert probe("shortcut")["skipped"]


def test_the_shortcut_is_a_no_op_once_serpyco_is_imported() -> None:
    import serpyco_rs._utils

    from source_qualtrics.startup import skip_attribute_docstrings

    before = serpyco_rs._utils.get_attributes_doc
    skip_attribute_docstrings()
    assert serpyco_rs._utils.get_attributes_doc is before


EXIT_PROBE = textwrap.dedent(
    """
    import gc, logging, sys, threading, time
    from source_qualtrics.startup import main
    import source_qualtrics.run  # the CDK's logging set-up, so the line below goes where the CLI's go
    logging.getLogger("airbyte").info("logged before the quick exit")
    if sys.argv[1] == "with-thread":
        threading.Thread(target=time.sleep, args=(3,)).start()  # non-daemon: main() must wait for it
    sys.argv = ["source-qualtrics", "spec"]
    main()
    print("main returned", flush=True)  # only reached when main() exits the normal way
    print(f"gc enabled {gc.isenabled()}, frozen {gc.get_freeze_count() > 10000}", flush=True)
    """
)


def test_the_console_script_loses_no_output_and_waits_for_running_threads() -> None:
    quick = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "plain"], capture_output=True, text=True, timeout=120
    )
    assert quick.returncode == 0
    lines = quick.stdout.splitlines()
    assert [json.loads(line)["type"] for line in lines if line.startswith("{")].count("SPEC") == 1
    assert "logged before the quick exit" in quick.stdout + quick.stderr
    assert "main returned" not in quick.stdout

    waited = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "with-thread"], capture_output=True, text=True, timeout=120
    )
    assert waited.returncode == 0 and "main returned" in waited.stdout
    assert (
        "gc enabled True, frozen True" in waited.stdout
    )  # the import-time objects are frozen, GC is back on
