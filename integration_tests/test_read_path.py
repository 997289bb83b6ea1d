"""The whole read as the platform sees it: every stream inside its own lifecycle, one survey listing per
sync, and a rotated token stopping the sync at once with one clear error."""

from __future__ import annotations

from typing import Any

from qualtrics_simulator import ServerHandle

from testkit import Connector, Run, configure, simulator_config


def stream_of(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "RECORD":
        return str(message["record"]["stream"])
    if kind == "STATE":
        return str(message["state"]["stream"]["stream_descriptor"]["name"])
    if kind == "TRACE" and message["trace"]["type"] == "STREAM_STATUS":
        return str(message["trace"]["stream_status"]["stream_descriptor"]["name"])
    return None


def lifecycle_violations(run: Run) -> list[str]:
    """Records or states of a stream outside its STARTED..COMPLETE, and statuses out of order."""
    open_stream: str | None = None
    problems = []
    for message in run.messages:
        stream = stream_of(message)
        if stream is None:
            continue
        if message["type"] == "TRACE":
            status = message["trace"]["stream_status"]["status"]
            if status == "STARTED":
                if open_stream is not None:
                    problems.append(f"{stream} STARTED while {open_stream} is open")
                open_stream = stream
            elif status in ("COMPLETE", "INCOMPLETE"):
                if open_stream != stream:
                    problems.append(f"{stream} {status} while {open_stream} is open")
                open_stream = None
            elif open_stream != stream:
                problems.append(f"{stream} {status} outside its lifecycle")
        elif stream != open_stream:
            problems.append(f"{message['type']} of {stream} while {open_stream} is open")
    return problems


def test_every_stream_emits_inside_its_own_lifecycle_with_its_own_state(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    names = [entry["name"] for entry in discovered["streams"]]
    catalog = configure(discovered, *names)
    simulator.sim.reset_counts()

    run = connector.run("read", simulator_config(simulator.base_url), catalog=catalog)

    assert run.returncode == 0, run.tail()
    assert lifecycle_violations(run) == []
    incremental = [e["stream"]["name"] for e in catalog["streams"] if e["sync_mode"] == "incremental"]
    assert {"responses", "question_answers"} <= set(incremental)
    assert [name for name in incremental if not run.states(name)] == [], "a STATE per incremental stream"
    counts = simulator.sim.request_counts()
    assert counts["GET surveys"] == 1, "one survey listing per sync, shared by every stream"
    responses = len(run.records("responses"))
    # one export per survey shared by responses and question_answers, one per survey for
    # in_progress_responses; response_ids exports nothing while no survey has deleted responses
    assert counts["POST export-responses"] == 3 + 3
    assert responses == 3 * 400
    assert len(run.records("question_answers")) > responses
    read_lines = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["message"].startswith("Read ")]
    assert f"Read {responses} records from responses stream" in read_lines
    answers = len(run.records("question_answers"))
    assert f"Read {answers} records from question_answers stream" in read_lines


def test_a_rotated_token_stops_the_sync_with_one_config_error_and_no_traceback(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    good = simulator_config(simulator.base_url)
    first = connector.run("read", good, catalog=configure(discovered, "surveys", "responses"))
    assert first.returncode == 0, first.tail()
    rotated = simulator_config(simulator.base_url, token="rotated-0000-token")
    names = [entry["name"] for entry in discovered["streams"]]
    simulator.sim.reset_counts()

    run = connector.run("read", rotated, catalog=configure(discovered, *names), state=first.latest_states())
    answered_401 = simulator.sim.request_counts().get("401", 0)
    check = connector.run("check", rotated)

    assert run.returncode == 1
    errors = [m["trace"]["error"] for m in run.of_type("TRACE") if m["trace"]["type"] == "ERROR"]
    assert len(errors) == 1, errors
    (error,) = errors
    assert error["failure_type"] == "config_error"
    assert error["message"] == check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["message"]
    assert "rejected the API token" in error["message"]
    assert not error.get("stack_trace")
    everything = run.raw_stdout + run.stderr
    assert "Traceback" not in everything
    assert "rotated-0000-token" not in everything
    assert answered_401 == 1, "no stream is attempted with a dead token"
    started = [m for m in run.of_type("TRACE") if m["trace"]["type"] == "STREAM_STATUS"]
    assert [s["trace"]["stream_status"]["status"] for s in started] == ["STARTED", "INCOMPLETE"]
    assert not run.of_type("STATE"), "no STATE moves (the input state stays the platform's)"
