"""The installed CLI, as a subprocess, against the simulator over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

from qualtrics_simulator import ServerHandle

from testkit import SIM_TOKEN, Connector, configure, latest_state_per_stream, parse_lines, simulator_config


def ground_truth(server: ServerHandle) -> set[tuple[str, str]]:
    return {(sid, rid) for sid in server.sim.survey_ids() for rid in server.sim.response_ids(sid)}


def keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["surveyId"], r["responseId"]) for r in records]


def test_check_succeeds_with_the_right_token(simulator: ServerHandle, connector: Connector) -> None:
    run = connector.run("check", simulator_config(simulator.base_url))
    (status,) = run.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED", run.raw_stdout


def test_check_fails_with_a_wrong_token_and_never_prints_it(
    simulator: ServerHandle, connector: Connector
) -> None:
    wrong = "wrong-token-7d1e"
    run = connector.run("check", simulator_config(simulator.base_url, token=wrong))
    (status,) = run.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "rejected" in status["connectionStatus"]["message"]
    assert wrong not in run.raw_stdout and wrong not in run.stderr


def test_discover_describes_the_streams_without_starting_an_export(
    simulator: ServerHandle, connector: Connector
) -> None:
    run = connector.run("discover", simulator_config(simulator.base_url))
    assert run.returncode == 0, run.stderr
    (catalog,) = run.of_type("CATALOG")
    streams = {s["name"]: s for s in catalog["catalog"]["streams"]}
    assert {"surveys", "responses", "survey_questions", "users", "distributions", "response_ids"} <= set(
        streams
    )
    for stream in streams.values():
        assert stream["source_defined_primary_key"], stream["name"]
    assert streams["responses"]["source_defined_primary_key"] == [["responseId"]]
    assert "values" in streams["responses"]["json_schema"]["properties"]
    counts = simulator.sim.request_counts()
    assert not any("export" in kind and count for kind, count in counts.items()), counts


def test_a_full_read_returns_exactly_the_simulators_responses(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    run = connector.run(
        "read", simulator_config(simulator.base_url), catalog=configure(discovered, "surveys", "responses")
    )
    assert run.returncode == 0, run.stderr[-2000:]
    received = keys(run.records("responses"))
    assert len(received) == len(set(received)), "no response is duplicated"
    assert set(received) == ground_truth(simulator)
    assert {r["id"] for r in run.records("surveys")} == set(simulator.sim.survey_ids())
    # three small surveys: each is at least an eighth of the sync, so each gets its own checkpoint;
    # the last one also carries the ceilings the completeness check leaves for the next sync
    assert [len(state.get("states", [])) for state in run.states("responses")] == [1, 2, 3]
    assert all("countsCeiling" in entry["cursor"] for entry in run.states("responses")[-1]["states"])
    assert SIM_TOKEN not in run.raw_stdout


def test_an_incremental_read_brings_exactly_the_new_and_edited_responses(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = simulator_config(simulator.base_url)
    catalog = configure(discovered, "responses")
    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    first_sync = set(keys(first.records("responses")))
    first_state = first.latest_states()

    sim = simulator.sim
    survey_a, survey_b, survey_c = sim.survey_ids()
    added = sim.add_responses(survey_a, 7)
    edited = sim.edit_responses(survey_b, 4)
    new_survey = sim.add_survey(name="Added later", responses=5)

    second = connector.run("read", config, catalog=catalog, state=first_state)
    assert second.returncode == 0, second.stderr[-2000:]
    received = keys(second.records("responses"))
    expected = (
        {(survey_a, rid) for rid in added}
        | {(survey_b, rid) for rid in edited}
        | {(new_survey, rid) for rid in sim.response_ids(new_survey)}
    )
    assert set(received) == expected
    assert len(received) == len(set(received))
    assert not (set(received) - expected) & first_sync, "unchanged responses do not come again"
    assert first_sync | set(received) == ground_truth(simulator)
    assert not [r for r in second.records("responses") if r["surveyId"] == survey_c]


def test_a_read_killed_after_its_first_checkpoint_resumes_without_loss(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = simulator_config(simulator.base_url)
    catalog = configure(discovered, "responses")
    process = subprocess.Popen(
        connector.args("read", config, catalog=catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        seen.append(message)
        if message.get("type") == "STATE" and message["state"]["stream"]["stream_state"].get("states"):
            process.send_signal(signal.SIGKILL)  # right after the first survey's checkpoint
            break
    remaining = process.stdout.read()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    complete_lines = remaining.split("\n")[
        :-1
    ]  # the kill can cut the last line short; the platform drops it too
    seen.extend(parse_lines("\n".join(complete_lines)))

    before_kill = [m["record"]["data"] for m in seen if m.get("type") == "RECORD"]
    last_state = latest_state_per_stream([m["state"] for m in seen if m.get("type") == "STATE"])
    assert len(last_state) == 1
    resumed = connector.run("read", config, catalog=catalog, state=last_state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    union = set(keys(before_kill)) | set(keys(resumed.records("responses")))
    assert union == ground_truth(simulator)
    checkpointed = {e["partition"]["survey_id"] for e in last_state[0]["stream"]["stream_state"]["states"]}
    assert 1 <= len(checkpointed) < 3, "the kill landed mid-sync"
    repeated = set(keys(before_kill)) & set(keys(resumed.records("responses")))
    assert not {survey for survey, _ in repeated} & checkpointed, "checkpointed surveys are not read again"


def test_oauth_client_credentials_check_and_read(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = {
        "datacenter": simulator.base_url,
        "credentials": {
            "auth_type": "oauth2_client_credentials",
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "scopes": "read:surveys read:survey_responses",
        },
    }
    check = connector.run("check", config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED", (
        check.raw_stdout
    )
    run = connector.run("read", config, catalog=configure(discovered, "responses"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(keys(run.records("responses"))) == ground_truth(simulator)
    assert simulator.sim.request_counts().get("POST oauth2/token", 0) >= 2
    assert "sim-secret" not in run.raw_stdout + check.raw_stdout


def test_in_progress_responses_are_a_separate_snapshot(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    catalog = configure(discovered, "responses", "in_progress_responses")
    run = connector.run("read", simulator_config(simulator.base_url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    partial = run.records("in_progress_responses")
    assert len(partial) == 3 * simulator.sim.config.in_progress_per_survey
    assert all(record["finished"] is False for record in partial)
    assert not set(keys(partial)) & ground_truth(simulator), "a partial is never also a recorded response"
    estimates = [m["trace"]["estimate"] for m in run.of_type("TRACE") if m["trace"]["type"] == "ESTIMATE"]
    assert {e["name"] for e in estimates} >= {"responses"}, "estimated from responseCounts before any export"
    assert set(keys(run.records("responses"))) == ground_truth(simulator)


def test_responses_and_question_answers_share_one_export_per_survey(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = simulator_config(simulator.base_url)
    first = connector.run("read", config, catalog=configure(discovered, "responses", "question_answers"))
    assert first.returncode == 0, first.stderr[-2000:]
    assert simulator.sim.request_counts()["POST export-responses"] == 3
    answered = {(row["surveyId"], row["responseId"]) for row in first.records("question_answers")}
    assert answered == ground_truth(simulator)
    answer_keys = [
        (r["surveyId"], r["responseId"], r["answerKey"]) for r in first.records("question_answers")
    ]
    assert len(answer_keys) == len(set(answer_keys))

    sim = simulator.sim
    edited = sim.edit_responses(sim.survey_ids()[0], 2)
    second = connector.run(
        "read",
        config,
        catalog=configure(discovered, "responses", "question_answers"),
        state=first.latest_states(),
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert simulator.sim.request_counts()["POST export-responses"] == 6, "still one export per survey"
    assert {r["responseId"] for r in second.records("responses")} == set(edited)
    assert {r["responseId"] for r in second.records("question_answers")} == set(edited)


def test_question_ids_narrow_what_each_response_carries(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    config = simulator_config(simulator.base_url, question_ids=["QID1"], survey_metadata_ids=["endDate"])
    run = connector.run("read", config, catalog=configure(discovered, "responses"))
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("responses")
    assert set(keys(records)) == ground_truth(simulator)
    question_keys = {key for r in records for key in r["values"] if key.startswith("QID")}
    assert question_keys == {"QID1"}
    assert not any("ipAddress" in r["values"] for r in records)


def test_per_survey_streams_are_typed_from_the_definition(
    simulator: ServerHandle, connector: Connector
) -> None:
    config = simulator_config(simulator.base_url, per_survey_streams=True)
    catalog = connector.discover(config)
    survey_id = simulator.sim.survey_ids()[0]
    name = f"responses_{survey_id}"
    stream = next(s for s in catalog["streams"] if s["name"] == name)
    properties = stream["json_schema"]["properties"]
    assert properties["QID1"]["type"] == ["null", "integer"] and properties["QID2"]["type"] == [
        "null",
        "array",
    ]
    assert properties["QID3_TEXT"]["type"] == ["null", "string"] and "QID4_1" in properties
    assert simulator.sim.request_counts().get("POST export-responses", 0) == 0
    run = connector.run("read", config, catalog=configure(catalog, name))
    assert run.returncode == 0, run.stderr[-2000:]
    rows = run.records(name)
    assert {r["responseId"] for r in rows} == set(simulator.sim.response_ids(survey_id))
    assert all(isinstance(r.get("QID1", 0), int) for r in rows)


def test_survey_questions_describe_every_question_once(
    simulator: ServerHandle, connector: Connector, discovered: dict[str, Any]
) -> None:
    catalog = configure(discovered, "survey_questions")
    config = simulator_config(simulator.base_url)
    first = connector.run("read", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = first.records("survey_questions")
    assert {(r["surveyId"], r["questionId"]) for r in rows} == {
        (sid, f"QID{n}") for sid in simulator.sim.survey_ids() for n in range(1, 7)
    }
    nps = next(r for r in rows if r["selector"] == "NPS")
    assert [c["recode"] for c in nps["choices"]] == [str(n) for n in range(11)]
    second = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert second.records("survey_questions") == [], "unchanged surveys are not read again"
