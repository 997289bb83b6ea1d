"""Big brands end to end: surveys no export can hold whole, and syncs of hundreds of small surveys.

The installed CLI against the in-process simulator over real HTTP, with exact ground truth from it:
every response arrives exactly once, however the exports are cut, and the STATE a sync writes stays in
proportion to its final state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from qualtrics_simulator import ServerHandle

from integration_tests.test_big_surveys import ExportSpy, backfill_lengths, logs, partitions, truth
from integration_tests.test_end_to_end import keys
from testkit import Connector, configure, simulator_config
from testkit.interrupted import run_live


def state_bytes(messages: list[dict[str, Any]], stream: str = "responses") -> list[int]:
    """The size of each STATE of one stream, as the platform would store it."""
    return [
        len(orjson.dumps(m["state"]["stream"]["stream_state"]))
        for m in messages
        if m.get("type") == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == stream
    ]


@pytest.mark.parametrize("skew_week_fraction", [0.0, 0.9], ids=["spread", "most-in-one-week"])
def test_a_survey_qualtrics_exports_only_400_at_a_time_syncs_all_5000_responses_in_one_sync(
    serve: Callable[..., ServerHandle],
    connector: Connector,
    discovered: dict[str, Any],
    skew_week_fraction: float,
) -> None:
    server = serve(
        seed=19,
        export_seconds=0.05,
        surveys=1,
        responses_per_survey=5000,
        export_record_cap=400,
        skew_week_fraction=skew_week_fraction,
    )
    (survey,) = server.sim.survey_ids()
    spy = ExportSpy.on(server.sim)
    run = connector.run("read", simulator_config(server.base_url), catalog=configure(discovered, "responses"))
    assert run.returncode == 0, run.tail()
    received = keys(run.records("responses"))
    assert len(received) == len(set(received)) == 5000, "every response exactly once"
    assert set(received) == truth(server)
    limits = [export.body.get("limit") for export in spy.of(survey)]
    assert limits[:6] == [None, None, 2500, 1250, 625, 312], "the whole survey twice, then halving counts"
    assert set(limits[6:]) == {312}, "the size that worked goes on"
    assert len(limits) == 6 + 5000 // 312, "one export per chunk, no failure after the size was found"
    lengths = backfill_lengths(run.messages, survey)
    assert len(lengths) >= 16 and lengths[-1] == 0, "a STATE right after every chunk, the last one done"


def test_a_sync_of_200_small_surveys_killed_midway_resumes_losing_nothing_with_state_in_proportion(
    serve: Callable[..., ServerHandle], connector: Connector, discovered: dict[str, Any]
) -> None:
    server = serve(seed=19, export_seconds=0.05, surveys=200, responses_per_survey=3)
    config = simulator_config(server.base_url)
    catalog = configure(discovered, "responses")

    def after_third_state(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        return message.get("type") == "STATE" and len(state_bytes(seen)) >= 3

    first = run_live(connector.args("read", config, catalog=catalog), after_third_state)
    assert first.killed
    checkpointed = partitions(first.latest_states()[0]["stream"]["stream_state"])
    assert 3 * 25 <= len(checkpointed) < 200, "small surveys share a STATE: an eighth of them each"

    resumed = connector.run("read", config, catalog=catalog, state=first.latest_states())
    assert resumed.returncode == 0, resumed.tail()
    before, after = keys(first.records("responses")), keys(resumed.records("responses"))
    assert set(before) | set(after) == truth(server), "nothing lost"
    assert not {key for key in after if key[0] in checkpointed}, "no checkpointed survey exported again"
    repeated = set(before) & set(after)
    assert len(repeated) <= 3 * (25 + 4), "at most a share of small surveys and those in flight"

    sizes = state_bytes(resumed.messages)
    assert len(sizes) <= 8 and sum(sizes) <= 10 * sizes[-1], sizes
    # The resumed sync exported the checkpointed surveys again for changes, and every one came back
    # empty: the log says what the skip option would have saved, once.
    hints = [line for line in logs(resumed.messages) if "skip_unchanged_surveys" in line]
    assert len(hints) == 1 and f"{len(checkpointed)} of the " in hints[0], hints
