"""Admin API under /__admin: ground truth and mutations for tests and demos (plain JSON, no auth).

Same `Route`/`Request` as the API; replies are `(status, JSON body)` without the Qualtrics envelope.
"""

from __future__ import annotations

from typing import Any

from .directory_changes import now_ms
from .errors import ApiError
from .routing import Request, Route
from .store import UnknownResponse, UnknownSurvey

Reply = tuple[int, Any]


def _body(request: Request) -> dict[str, Any]:
    parsed = request.json()
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ValueError("body must be a JSON object")
    return parsed


def _ids(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("responseIds")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("responseIds must be an array of strings")
    return ids


def _count(body: dict[str, Any], name: str = "count", default: int = 1) -> int:
    count = body.get(name, default)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return count


def request_counts(request: Request) -> dict[str, int]:
    return request.sim.request_counts()


def reset_counts(request: Request) -> dict[str, Any]:
    request.sim.reset_counts()
    return {"ok": True}


def get_faults(request: Request) -> dict[str, Any]:
    return request.sim.faults.state()


def set_faults(request: Request) -> dict[str, Any]:
    return request.sim.set_faults(**_body(request))


def list_surveys(request: Request) -> dict[str, Any]:
    return {"surveyIds": request.sim.survey_ids()}


def add_survey(request: Request) -> dict[str, Any]:
    body = _body(request)
    responses = _count(body, "responses", 0)
    return {"surveyId": request.sim.add_survey(name=body.get("name"), responses=responses)}


def delete_survey(request: Request) -> dict[str, Any]:
    request.sim.delete_survey(request.params["surveyId"])
    return {"deleted": request.params["surveyId"]}


def response_ids(request: Request) -> dict[str, Any]:
    return {"responseIds": list(request.sim.response_ids(request.params["surveyId"]))}


def all_response_ids(request: Request) -> dict[str, Any]:
    """Ground truth of every survey in one call (10,000 calls of the per-survey form take ~20 s)."""
    return {"surveys": {sid: list(request.sim.response_ids(sid)) for sid in request.sim.survey_ids()}}


def add_responses(request: Request) -> dict[str, Any]:
    return {"responseIds": request.sim.add_responses(request.params["surveyId"], _count(_body(request)))}


def edit_responses(request: Request) -> dict[str, Any]:
    body = _body(request)
    ids = _ids(body)
    edited = request.sim.edit_responses(request.params["surveyId"], ids if ids is not None else _count(body))
    return {"responseIds": edited}


def touch_surveys(request: Request) -> dict[str, Any]:
    """`{"fraction": 0.01}` or `{"surveyIds": [...]}`, plus `add` (default 1) and `edit` (default 0)."""
    body = _body(request)
    ids = body.get("surveyIds")
    fraction = body.get("fraction")
    if (ids is None) == (fraction is None):
        raise ValueError("give exactly one of surveyIds and fraction")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise ValueError("surveyIds must be an array of strings")
    if fraction is not None and (
        not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 <= fraction <= 1
    ):
        raise ValueError("fraction must be a number between 0 and 1")
    changed = request.sim.touch_surveys(
        survey_ids=ids,
        fraction=None if fraction is None else float(fraction),
        add=_count(body, "add", 1),
        edit=_count(body, "edit", 0),
    )
    return {"surveys": changed}


def delete_responses(request: Request) -> dict[str, Any]:
    ids = _ids(_body(request)) or []
    return {"responseIds": request.sim.delete_responses(request.params["surveyId"], ids)}


def add_distribution(request: Request) -> dict[str, Any]:
    info = request.sim.store.survey(request.params["surveyId"])
    plan = request.sim.directory.new_distribution(info, now_ms())
    return {"distributionId": plan.id, "sendDate": plan.sent_ms}


def add_sms_distribution(request: Request) -> dict[str, Any]:
    info = request.sim.store.survey(request.params["surveyId"])
    plan = request.sim.sms_distributions.add(info, now_ms())
    return {"distributionId": plan.id, "sendDate": plan.sent_ms}


def add_open(request: Request) -> dict[str, Any]:
    body = _body(request)
    contact = body.get("contactId")
    if contact is not None and not isinstance(contact, str):
        raise ValueError("contactId must be a string")
    opened = request.sim.directory.open_email(request.params["distributionId"], contact, now_ms())
    return {"distributionId": request.params["distributionId"], "contactId": opened}


def add_transactions(request: Request) -> dict[str, Any]:
    body = _body(request)
    contacts, count = body.get("contactIds"), body.get("count", 1)
    if contacts is not None and not (
        isinstance(contacts, list) and all(isinstance(c, str) for c in contacts)
    ):
        raise ValueError("contactIds must be an array of strings")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a positive integer")
    directory = request.sim.directory
    batch_id, ids = directory.add_transactions(request.params["directoryId"], contacts, count, now_ms())
    return {"batchId": batch_id, "transactionIds": ids}


ADMIN_ROUTES: tuple[Route, ...] = (
    Route("GET", "/requests", request_counts),
    Route("POST", "/reset-counts", reset_counts),
    Route("GET", "/faults", get_faults),
    Route("POST", "/faults", set_faults),
    Route("GET", "/surveys", list_surveys),
    Route("GET", "/response-ids", all_response_ids),
    Route("POST", "/surveys", add_survey),
    Route("POST", "/surveys/touch", touch_surveys),
    Route("DELETE", "/surveys/{surveyId}", delete_survey),
    Route("GET", "/surveys/{surveyId}/response-ids", response_ids),
    Route("POST", "/surveys/{surveyId}/responses", add_responses),
    Route("POST", "/surveys/{surveyId}/responses/edit", edit_responses),
    Route("POST", "/surveys/{surveyId}/responses/delete", delete_responses),
    # distributions, opens and transactions added at runtime (directory_changes.py)
    Route("POST", "/surveys/{surveyId}/distributions", add_distribution),
    Route("POST", "/surveys/{surveyId}/sms-distributions", add_sms_distribution),
    Route("POST", "/distributions/{distributionId}/opens", add_open),
    Route("POST", "/directories/{directoryId}/transactions", add_transactions),
)


def call(route: Route, request: Request) -> Reply:
    """Run an admin handler, mapping unknown ids to 404 and bad input to 400 (plain `{"error": ...}`)."""
    try:
        return 200, route.handler(request)
    except UnknownSurvey as exc:
        return 404, {"error": f"unknown survey {exc.args[0]}"}
    except UnknownResponse as exc:
        return 404, {"error": f"unknown response {exc.args[0]}"}
    except ApiError as exc:
        return exc.status, {"error": exc.message}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
