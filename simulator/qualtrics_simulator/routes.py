"""The API's routes table: survey, definition and export handlers, plus the directory routes.

Adding an endpoint is one `Route(...)` line here (or in `directory_routes.ROUTES`) and one
`def handler(request: Request) -> result` function.
"""

from __future__ import annotations

from typing import Any

from . import data, directory_routes, structure, transactions
from .exports import BuiltFile
from .paging import Page, offset_window
from .routing import Request, Route

# Request-count names of the export routes (kept short; tests and the bench read them).
EXPORT_START = "POST export-responses"
EXPORT_POLL = "GET export-responses/{progressId}"
EXPORT_FILE = "GET export-responses/{fileId}/file"
# Export jobs the simulator accepted (POST export-responses also counts those refused or throttled).
EXPORTS_STARTED = "export jobs started"


def whoami(request: Request) -> dict[str, Any]:
    return {
        "brandId": "simbrand",
        "userId": request.sim.store.owner_id,
        "userName": "sim.user@simbrand",
        "accountType": "UT_BRANDADMIN",
        "firstName": "Sim",
        "lastName": "User",
        "email": "sim.user@example.com",
        "datacenter": request.sim.config.datacenter,
    }


def list_surveys(request: Request) -> dict[str, Any]:
    infos = request.sim.store.surveys()
    size = max(1, request.sim.config.page_size)
    window, next_page = offset_window(len(infos), request.query, request.api_url("/surveys"), size)
    return Page([data.list_element(info) for info in infos[window]], next_page).as_result()


def get_survey(request: Request) -> dict[str, Any]:
    sid = request.params["surveyId"]
    return data.legacy_survey(request.sim.store.survey(sid), request.sim.store.counts(sid))


def get_definition(request: Request) -> dict[str, Any]:
    return data.survey_definition(request.sim.store.survey(request.params["surveyId"]))


def get_questions(request: Request) -> dict[str, Any]:
    info = request.sim.store.survey(request.params["surveyId"])
    return {"elements": list(data.definition_questions(info).values())}


def start_export(request: Request) -> dict[str, Any]:
    sid = request.params["surveyId"]
    request.sim.store.survey(sid)
    started = request.sim.exports.start(sid, request.json())
    request.sim.stats.count(EXPORTS_STARTED)
    return started


def export_progress(request: Request) -> dict[str, Any]:
    return request.sim.exports.progress(request.params["surveyId"], request.params["progressId"])


def export_file(request: Request) -> BuiltFile:
    return request.sim.exports.file(request.params["surveyId"], request.params["fileId"])


ROUTES: tuple[Route, ...] = (
    Route("GET", "/whoami", whoami),
    Route("GET", "/surveys", list_surveys),
    Route("GET", "/surveys/{surveyId}", get_survey),
    Route("GET", "/survey-definitions/{surveyId}", get_definition),
    Route("GET", "/survey-definitions/{surveyId}/questions", get_questions),
    Route("POST", "/surveys/{surveyId}/export-responses", start_export, EXPORT_START, "export_start"),
    Route(
        "GET",
        "/surveys/{surveyId}/export-responses/{progressId}",
        export_progress,
        EXPORT_POLL,
        "export_progress",
    ),
    Route(
        "GET", "/surveys/{surveyId}/export-responses/{fileId}/file", export_file, EXPORT_FILE, "export_file"
    ),
    *directory_routes.ROUTES,
    *structure.ROUTES,
    *transactions.ROUTES,
)
