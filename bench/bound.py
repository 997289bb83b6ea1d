"""The pacing bound of a run: the least wall time the connector's own budgets allow for the requests
the simulator counted. A sync that overlaps enough requests to hide the network's latency runs close
to it; a sync that waits for one round trip at a time runs at requests x latency instead.

The budgets and the rule that sorts a request into one are the connector's (`source_qualtrics.pacing`),
applied to the simulator's routes, so a budget changed there changes the bound here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qualtrics_simulator.routes import ROUTES

from source_qualtrics.pacing import DEFAULT_REQUESTS_PER_MINUTE, ENDPOINT_LIMITS_PER_MINUTE, endpoint_kind

ALL_REQUESTS = "all requests"


def pacing_kind_of_route() -> dict[str, str]:
    """The simulator's request-count name of each API route -> the connector's pacing bucket."""
    return {route.kind: endpoint_kind(route.method, route.path) for route in ROUTES}


@dataclass(frozen=True)
class PacingBound:
    seconds: float
    binding: str  # the budget that sets it: ALL_REQUESTS or an endpoint kind of the pacing
    requests: int
    by_kind: Mapping[str, int]  # requests per pacing bucket


def pacing_bound(
    counts: Mapping[str, int],
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
    endpoint_limits: Mapping[str, float] = ENDPOINT_LIMITS_PER_MINUTE,
) -> PacingBound:
    """The larger of all requests / the brand budget and, per endpoint kind, its requests / its budget.

    `counts` are the simulator's request counts (`GET /__admin/requests`): only route names count,
    not the status tallies, `429 <kind>` repeats, `in_flight_max` or events such as export jobs started.
    A request answered 429 counts: the connector spent a token of its budget on it.
    """
    kinds = pacing_kind_of_route()
    by_kind: dict[str, int] = {}
    for name, count in counts.items():
        if name in kinds:
            by_kind[kinds[name]] = by_kind.get(kinds[name], 0) + count
    requests = sum(by_kind.values())
    minutes = {ALL_REQUESTS: requests / requests_per_minute}
    minutes.update(
        {kind: by_kind[kind] / limit for kind, limit in endpoint_limits.items() if kind in by_kind}
    )
    binding = max(minutes, key=lambda kind: minutes[kind])
    return PacingBound(minutes[binding] * 60.0, binding, requests, by_kind)
