"""Wide responses (about 150 values: matrices, multi-selects, texts) through the real CLI."""

from __future__ import annotations

from pathlib import Path

from qualtrics_simulator import Simulator, SimulatorConfig

from source_qualtrics.streams.responses import METADATA_KEYS
from testkit import Connector, configure, simulator_config


def test_typed_rows_of_wide_responses_hold_every_exported_answer_as_it_was(tmp_path: Path) -> None:
    """The simulator's exports are typed, so each typed row must carry exactly the answers of the
    same response in `responses`, nothing else but its ids, and the rest under `_other`."""
    sim = Simulator(SimulatorConfig(seed=4, surveys=1, responses_per_survey=300, values_per_response=150))
    (survey_id,) = sim.survey_ids()
    typed_stream = f"responses_{survey_id}"
    with sim.serve() as server:
        connector = Connector(tmp_path / "connector")
        config = simulator_config(server.base_url, per_survey_streams=True)
        catalog = connector.discover(config)
        columns = set(
            next(s for s in catalog["streams"] if s["name"] == typed_stream)["json_schema"]["properties"]
        )
        run = connector.run("read", config, catalog=configure(catalog, "responses", typed_stream))
    assert run.returncode == 0, run.stderr[-2000:]
    responses = {record["responseId"]: record for record in run.records("responses")}
    rows = run.records(typed_stream)
    assert len(rows) == len(responses) == 300
    assert sum(len(record["values"]) for record in responses.values()) / 300 > 130
    for row in rows:  # (the CDK leaves out a record's top-level nulls: unanswered columns are absent)
        values = responses[row["responseId"]]["values"]
        assert set(row) <= columns and set(row) <= set(values) | {"surveyId", "responseId", "_other"}
        answers = {key: value for key, value in values.items() if key in columns and key not in METADATA_KEYS}
        assert answers and {key: row.get(key) for key in answers} == answers
        rest = {key: value for key, value in values.items() if key not in columns and key != "_recordId"}
        assert row["_other"] == rest
