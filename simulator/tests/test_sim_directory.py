"""Users, groups, XM Directory, distributions, history and event subscriptions: shapes and paging."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from qualtrics_simulator import ServerHandle, Simulator, SimulatorConfig

from .conftest import HEADERS, RECORDINGS, needs_recordings


@pytest.fixture
def small_pages() -> SimulatorConfig:
    return SimulatorConfig(seed=7, surveys=2, responses_per_survey=120, export_seconds=0.05, page_size=4)


@pytest.fixture
def paged(small_pages: SimulatorConfig) -> ServerHandle:  # type: ignore[misc]
    with Simulator(small_pages).serve(port=0) as handle:
        yield handle


def walk(url: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Follow nextPage verbatim; return every element and each nextPage URL seen."""
    elements: list[dict[str, Any]] = []
    pages: list[str] = []
    next_url: str | None = url
    while next_url:
        reply = requests.get(next_url, headers=HEADERS)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["meta"]["httpStatus"] == "200 - OK"
        elements += body["result"]["elements"]
        next_url = body["result"]["nextPage"]
        if next_url:
            pages.append(next_url)
    return elements, pages


def test_users_page_by_offset_like_the_surveys_list(paged: ServerHandle) -> None:
    users, pages = walk(paged.base_url + "/users")
    assert len(users) == 7 and len({u["id"] for u in users}) == 7
    assert pages == [paged.base_url + "/users?offset=4"]
    assert set(users[0]) == {
        "id",
        "divisionId",
        "username",
        "firstName",
        "lastName",
        "userType",
        "email",
        "accountStatus",
    }
    assert users[0]["id"] == paged.sim.store.owner_id


def test_directory_contacts_page_by_skip_token_naming_the_last_element_served(paged: ServerHandle) -> None:
    (default, _other), _ = walk(paged.base_url + "/directories")
    assert default["directoryId"].startswith("POOL_") and default["isDefault"] is True
    contacts, pages = walk(f"{paged.base_url}/directories/{default['directoryId']}/contacts")
    assert len(contacts) == default["contactCount"] == 12
    assert len(pages) == 2
    for index, url in enumerate(pages):
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(paged.root_url + "/API/v3/directories/")
        assert query["skipToken"] == [contacts[4 * index + 3]["contactId"]]
    assert all(c["contactId"].startswith("CID_") for c in contacts)


def test_page_size_is_honoured_and_a_bad_skip_token_is_a_400(paged: ServerHandle) -> None:
    (default, _), _ = walk(paged.base_url + "/directories")
    url = f"{paged.base_url}/directories/{default['directoryId']}/contacts"
    reply = requests.get(url, params={"pageSize": 10}, headers=HEADERS).json()["result"]
    assert len(reply["elements"]) == 10 and "pageSize=10" in reply["nextPage"]
    bad = requests.get(url, params={"skipToken": "CID_nope"}, headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["meta"]["httpStatus"] == "400 - Bad Request"


def test_mailing_list_members_belong_to_the_directory(paged: ServerHandle) -> None:
    directories, _ = walk(paged.base_url + "/directories")
    for directory in directories:
        base = f"{paged.base_url}/directories/{directory['directoryId']}"
        contact_ids = {c["contactId"] for c in walk(base + "/contacts")[0]}
        lists, _ = walk(base + "/mailinglists")
        assert lists and all(ml["mailingListId"].startswith("CG_") for ml in lists)
        for ml in lists:
            members, _ = walk(f"{base}/mailinglists/{ml['mailingListId']}/contacts")
            assert len(members) == ml["contactCount"]
            assert {m["contactId"] for m in members} <= contact_ids


def test_distributions_need_a_survey_and_filter_on_send_date(paged: ServerHandle) -> None:
    missing = requests.get(paged.base_url + "/distributions", headers=HEADERS)
    assert missing.status_code == 400
    survey_id = paged.sim.survey_ids()[0]
    everything, _ = walk(f"{paged.base_url}/distributions?surveyId={survey_id}")
    assert [d["requestType"] for d in everything] == ["Invite", "Invite", "TestEmail"]
    assert all(d["surveyLink"]["surveyId"] == survey_id for d in everything)
    since = everything[1]["sendDate"]
    later, _ = walk(f"{paged.base_url}/distributions?surveyId={survey_id}&sendStartDate={since}")
    assert [d["id"] for d in later] == [d["id"] for d in everything[1:]]


def test_history_links_recipients_to_existing_responses_and_test_emails_have_none(
    paged: ServerHandle,
) -> None:
    survey_id = paged.sim.survey_ids()[0]
    distributions, _ = walk(f"{paged.base_url}/distributions?surveyId={survey_id}")
    history, pages = walk(f"{paged.base_url}/distributions/{distributions[0]['id']}/history")
    assert pages, "history pages with skipToken"
    assert len(history) == distributions[0]["stats"]["sent"]
    assert all(h["distributionId"] == distributions[0]["id"] for h in history)
    linked = [h["responseId"] for h in history if h["responseId"]]
    assert linked and set(linked) <= set(paged.sim.response_ids(survey_id))
    test_email = requests.get(
        f"{paged.base_url}/distributions/{distributions[2]['id']}/history", headers=HEADERS
    )
    assert test_email.status_code == 400
    assert test_email.json()["meta"]["error"]["errorCode"] == "CP_TD_GER_NP"


def test_event_subscriptions_and_group_members(paged: ServerHandle) -> None:
    subscriptions, _ = walk(paged.base_url + "/eventsubscriptions")
    assert {s["topics"] for s in subscriptions} == {
        f"surveyengine.completedResponse.{sid}" for sid in paged.sim.survey_ids()
    }
    assert all(s["id"].startswith("SUB_") for s in subscriptions)
    groups, _ = walk(paged.base_url + "/groups")
    user_ids = {u["id"] for u in walk(paged.base_url + "/users")[0]}
    for group in groups:
        members, _ = walk(f"{paged.base_url}/groups/{group['id']}/members")
        assert members and {m["id"] for m in members} <= user_ids


def test_forbidden_paths_answer_403_and_can_be_lifted_at_runtime(paged: ServerHandle) -> None:
    paged.sim.set_faults(forbidden_paths=["/users", "/directories/*/contacts"])
    assert requests.get(paged.base_url + "/users", headers=HEADERS).status_code == 403
    (default, _), _ = walk(paged.base_url + "/directories")
    reply = requests.get(f"{paged.base_url}/directories/{default['directoryId']}/contacts", headers=HEADERS)
    assert reply.status_code == 403 and reply.json()["meta"]["httpStatus"] == "403 - Forbidden"
    paged.sim.set_faults(forbidden_paths=[])
    assert requests.get(paged.base_url + "/users", headers=HEADERS).status_code == 200


def test_the_same_seed_serves_the_same_directory(small_pages: SimulatorConfig) -> None:
    def snapshot() -> list[Any]:
        with Simulator(small_pages).serve(port=0) as handle:
            sid = handle.sim.survey_ids()[0]
            return [
                walk(handle.base_url + "/users")[0],
                walk(handle.base_url + "/directories")[0],
                walk(f"{handle.base_url}/distributions?surveyId={sid}")[0],
            ]

    assert snapshot() == snapshot()


@needs_recordings
def test_history_and_subscription_shapes_match_the_recordings(paged: ServerHandle) -> None:
    recorded_history = json.loads(
        (
            RECORDINGS
            / "qualtRics/fetch_distribution_history/01_GET_distributions_EMD_RmjB8Gfpjlki6ms_history.json"
        ).read_text()
    )["result"]["elements"][0]
    recorded_subscription = json.loads(
        (
            RECORDINGS
            / "cambridge-qualtrics_api/event_subscription_create_response_sub"
            / "02_GET_eventsubscriptions_SUB_bJz4lXj0Uku1IQ5.json"
        ).read_text()
    )["result"]
    survey_id = paged.sim.survey_ids()[0]
    distributions, _ = walk(f"{paged.base_url}/distributions?surveyId={survey_id}")
    history, _ = walk(f"{paged.base_url}/distributions/{distributions[0]['id']}/history")
    assert set(history[0]) == set(recorded_history)
    subscriptions, _ = walk(paged.base_url + "/eventsubscriptions")
    assert set(subscriptions[0]) == set(recorded_subscription)
