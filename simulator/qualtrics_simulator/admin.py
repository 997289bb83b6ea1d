"""Admin API under /__admin: ground truth and mutations for tests and demos (plain JSON, no auth)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .store import UnknownResponse, UnknownSurvey

if TYPE_CHECKING:
    from .simulator import Simulator

Reply = tuple[int, Any]


def _ids(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("responseIds")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("responseIds must be an array of strings")
    return ids


def _count(body: dict[str, Any]) -> int:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError("count must be a non-negative integer")
    return count


def _route(sim: Simulator, method: str, path: str, body: dict[str, Any]) -> Reply:
    if method == "GET" and path == "/requests":
        return 200, sim.request_counts()
    if method == "POST" and path == "/reset-counts":
        sim.reset_counts()
        return 200, {"ok": True}
    if path == "/faults":
        return 200, sim.set_faults(**body) if method == "POST" else sim.faults.state()
    if method == "GET" and path == "/surveys":
        return 200, {"surveyIds": sim.survey_ids()}
    if method == "POST" and path == "/surveys":
        responses = body.get("responses", 0)
        if not isinstance(responses, int) or responses < 0:
            raise ValueError("responses must be a non-negative integer")
        return 200, {"surveyId": sim.add_survey(name=body.get("name"), responses=responses)}
    match = re.fullmatch(r"/surveys/([^/]+)(/.*)?", path)
    if match is None:
        return 404, {"error": f"unknown admin path {path}"}
    sid, rest = match.group(1), match.group(2) or ""
    if method == "DELETE" and rest == "":
        sim.delete_survey(sid)
        return 200, {"deleted": sid}
    if method == "GET" and rest == "/response-ids":
        return 200, {"responseIds": list(sim.response_ids(sid))}
    if method == "POST" and rest == "/responses":
        return 200, {"responseIds": sim.add_responses(sid, _count(body))}
    if method == "POST" and rest == "/responses/edit":
        ids = _ids(body)
        edited = sim.edit_responses(sid, ids if ids is not None else _count(body))
        return 200, {"responseIds": edited}
    if method == "POST" and rest == "/responses/delete":
        return 200, {"responseIds": sim.delete_responses(sid, _ids(body) or [])}
    return 404, {"error": f"unknown admin path {method} {path}"}


def handle(sim: Simulator, method: str, path: str, body: Any) -> Reply:
    """Dispatch one admin request; `path` is relative to /__admin."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return 400, {"error": "body must be a JSON object"}
    try:
        return _route(sim, method, path, body)
    except UnknownSurvey as exc:
        return 404, {"error": f"unknown survey {exc.args[0]}"}
    except UnknownResponse as exc:
        return 404, {"error": f"unknown response {exc.args[0]}"}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
