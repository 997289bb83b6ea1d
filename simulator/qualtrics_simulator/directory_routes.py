"""Route handlers for users, groups, XM Directory, distributions and event subscriptions."""

from __future__ import annotations

from typing import Any

from .directory import filter_by_send_date
from .errors import ApiError, bad_request
from .exports import parse_date
from .paging import offset_page, page_size, skip_token_page
from .routing import Request, Route


def _skip_token_result(
    request: Request, elements: list[dict[str, Any]], key: str, path: str, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    size = page_size(request.query, request.sim.config.page_size)
    return skip_token_page(elements, key, request.query, request.api_url(path), size, keep).as_result()


def list_users(request: Request) -> dict[str, Any]:
    users = request.sim.directory.users
    url, size = request.api_url("/users"), request.sim.config.page_size
    return offset_page(users, request.query, url, size).as_result()


def list_groups(request: Request) -> dict[str, Any]:
    groups = request.sim.directory.groups
    url, size = request.api_url("/groups"), request.sim.config.page_size
    return offset_page(groups, request.query, url, size).as_result()


def list_group_members(request: Request) -> dict[str, Any]:
    group_id = request.params["groupId"]
    members = request.sim.directory.group_members.get(group_id)
    if members is None:
        raise ApiError(404, "NF_1", f"Group {group_id} was not found.")
    return _skip_token_result(request, members, "id", f"/groups/{group_id}/members")


def list_directories(request: Request) -> dict[str, Any]:
    return _skip_token_result(request, request.sim.directory.directories, "directoryId", "/directories")


def list_directory_contacts(request: Request) -> dict[str, Any]:
    directory_id = request.params["directoryId"]
    contacts = request.sim.directory.directory_contacts(directory_id)
    return _skip_token_result(request, contacts, "contactId", f"/directories/{directory_id}/contacts")


def list_mailing_lists(request: Request) -> dict[str, Any]:
    directory_id = request.params["directoryId"]
    lists = request.sim.directory.directory_lists(directory_id)
    return _skip_token_result(request, lists, "mailingListId", f"/directories/{directory_id}/mailinglists")


def list_mailing_list_contacts(request: Request) -> dict[str, Any]:
    directory_id, mailing_list_id = request.params["directoryId"], request.params["mailingListId"]
    contacts = request.sim.directory.mailing_list_contacts(directory_id, mailing_list_id)
    path = f"/directories/{directory_id}/mailinglists/{mailing_list_id}/contacts"
    return _skip_token_result(request, contacts, "contactId", path)


def list_distributions(request: Request) -> dict[str, Any]:
    survey = request.arg("surveyId")
    if not survey:
        raise bad_request("Missing required parameter 'surveyId'.")
    info = request.sim.store.survey(survey)
    elements = filter_by_send_date(request.sim.directory.distributions(info), request.query, parse_date)
    keep = ("surveyId", "sendStartDate", "sendEndDate", "distributionRequestType")
    return _skip_token_result(request, elements, "id", "/distributions", keep)


def list_sms_distributions(request: Request) -> dict[str, Any]:
    survey = request.arg("surveyId")
    if not survey:
        raise bad_request("Missing required parameter 'surveyId'.")
    info = request.sim.store.survey(survey)
    elements = request.sim.sms_distributions.records(info)
    return _skip_token_result(request, elements, "id", "/distributions/sms", ("surveyId",))


def distribution_history(request: Request) -> dict[str, Any]:
    distribution_id = request.params["distributionId"]
    directory = request.sim.directory
    plan = directory.find_plan(distribution_id)
    rows = directory.history(request.sim.store.survey(plan.survey_id), distribution_id)
    return _skip_token_result(request, rows, "contactId", f"/distributions/{distribution_id}/history")


def list_event_subscriptions(request: Request) -> dict[str, Any]:
    subscriptions = request.sim.directory.event_subscriptions(request.sim.store.surveys())
    return _skip_token_result(request, subscriptions, "id", "/eventsubscriptions")


ROUTES = (
    Route("GET", "/users", list_users),
    Route("GET", "/groups", list_groups),
    Route("GET", "/groups/{groupId}/members", list_group_members),
    Route("GET", "/directories", list_directories),
    Route("GET", "/directories/{directoryId}/contacts", list_directory_contacts),
    Route("GET", "/directories/{directoryId}/mailinglists", list_mailing_lists),
    Route(
        "GET",
        "/directories/{directoryId}/mailinglists/{mailingListId}/contacts",
        list_mailing_list_contacts,
        kind="GET mailinglists/{id}/contacts",
    ),
    Route("GET", "/distributions", list_distributions),
    Route("GET", "/distributions/sms", list_sms_distributions),
    Route("GET", "/distributions/{distributionId}/history", distribution_history, limit="history"),
    Route("GET", "/eventsubscriptions", list_event_subscriptions, limit="eventsubscriptions"),
)
