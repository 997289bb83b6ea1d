"""Account, XM Directory, distribution and event-subscription data.

Everything derives from the seed (and, for distributions, from the survey and its response ids), so two
simulators with the same config serve the same records. Shapes were checked against recorded distribution
history and link-collection traffic (kept outside the repository); paging is in `paging.py`:

- `/users` and `/groups` page by `offset` (`nextPage` = `...?offset=N`);
- directory, mailing-list, distribution and history endpoints page by `skipToken`: `nextPage` is a full
  URL whose `skipToken` is the id of the last element of the page just served;
- test distributions (`requestType: "TestEmail"`) answer `/history` with 400 `CP_TD_GER_NP`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .data import EPOCH_MS, SurveyInfo, iso_millis, iso_seconds
from .errors import ApiError
from .ids import alnum, digest
from .store import Store

USERS = 7
GROUPS = 3
DIRECTORIES = 2
CONTACTS_PER_DIRECTORY = (12, 7)
MAILING_LISTS_PER_DIRECTORY = 2
DISTRIBUTIONS_PER_SURVEY = 3  # two invitations and one test email
DAY_MS = 86_400_000

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman")
LANGUAGES = ("EN", "EN", "EN", "ES", "FR", "DE")
HISTORY_STATUSES = ("Success", "Opened", "SurveyStarted", "SurveyFinished")
NOT_TEST_EMAIL = "CP_TD_GER_NP"


def _id(prefix: str, *parts: object) -> str:
    return prefix + alnum(digest(prefix, *parts), 15)


def _person(seed: int, kind: str, index: int) -> tuple[str, str]:
    raw = digest("person", seed, kind, index)
    return FIRST_NAMES[raw[0] % len(FIRST_NAMES)], LAST_NAMES[raw[1] % len(LAST_NAMES)]


class Directory:
    """The brand's users, groups, XM Directory, distributions and event subscriptions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        seed = store.config.seed
        self.seed = seed
        self.division_id = _id("DV_", seed)
        self.users = [self._user(i) for i in range(USERS)]
        self.groups = [self._group(i) for i in range(GROUPS)]
        self.group_members = {
            group["id"]: [
                {"id": user["id"], "username": user["username"]}
                for i, user in enumerate(self.users)
                if digest("member", seed, g, i)[0] % 2 == 0 or i == g
            ]
            for g, group in enumerate(self.groups)
        }
        self.directories = [self._directory(i) for i in range(DIRECTORIES)]
        self.contacts = {
            d["directoryId"]: [self._contact(i, c) for c in range(CONTACTS_PER_DIRECTORY[i])]
            for i, d in enumerate(self.directories)
        }
        for d in self.directories:
            d["contactCount"] = len(self.contacts[d["directoryId"]])
        self.mailing_lists: dict[str, list[dict[str, Any]]] = {}
        self._sender: dict[str, str] = {}  # distribution id -> survey id, see survey_of_distribution
        self._indexed: set[str] = set()
        self._index_lock = threading.Lock()
        self.list_members: dict[str, list[dict[str, Any]]] = {}
        for i, d in enumerate(self.directories):
            lists = []
            for m in range(MAILING_LISTS_PER_DIRECTORY):
                ml = self._mailing_list(i, m)
                members = [
                    dict(contact)
                    for c, contact in enumerate(self.contacts[d["directoryId"]])
                    if digest("ml-member", seed, i, m, c)[0] % 3 != 0
                ]
                ml["contactCount"] = len(members)
                self.list_members[ml["mailingListId"]] = members
                lists.append(ml)
            self.mailing_lists[d["directoryId"]] = lists

    # --- static records --------------------------------------------------------------------------------

    def _user(self, index: int) -> dict[str, Any]:
        first, last = _person(self.seed, "user", index)
        user_id = self.store.owner_id if index == 0 else _id("UR_", self.seed, index)
        username = f"{first.lower()}.{last.lower()}{index}@simbrand"
        return {
            "id": user_id,
            "divisionId": self.division_id,
            "username": username,
            "firstName": first,
            "lastName": last,
            "userType": "UT_BRANDADMIN" if index == 0 else "UT_STANDARD",
            "email": f"{first.lower()}.{last.lower()}{index}@example.com",
            "accountStatus": "disabled" if index == USERS - 1 else "active",
        }

    def _group(self, index: int) -> dict[str, Any]:
        return {
            "id": _id("GR_", self.seed, index),
            "name": ("Research", "Customer Experience", "Marketing")[index % 3],
            "type": "GT_DEFAULT",
            "divisionId": self.division_id,
            "creationDate": iso_seconds(EPOCH_MS - 400 * DAY_MS + index * DAY_MS),
        }

    def _directory(self, index: int) -> dict[str, Any]:
        return {
            "directoryId": _id("POOL_", self.seed, index),
            "name": "Default Directory" if index == 0 else f"Panel Directory {index}",
            "contactCount": 0,
            "isDefault": index == 0,
            "deduplicationCriteria": {
                "email": True,
                "firstName": False,
                "lastName": False,
                "externalDataReference": index == 0,
                "phone": False,
            },
        }

    def _contact(self, directory: int, index: int) -> dict[str, Any]:
        first, last = _person(self.seed, f"contact{directory}", index)
        raw = digest("contact", self.seed, directory, index)
        return {
            "contactId": _id("CID_", self.seed, directory, index),
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}.{last.lower()}.{directory}.{index}@example.com",
            "phone": f"+1555{int.from_bytes(raw[:3], 'big') % 10_000_000:07d}",
            "extRef": f"EXT-{directory}-{index:04d}",
            "language": LANGUAGES[raw[3] % len(LANGUAGES)],
            "unsubscribed": raw[4] % 9 == 0,
        }

    def _mailing_list(self, directory: int, index: int) -> dict[str, Any]:
        created = EPOCH_MS - 300 * DAY_MS + (directory * 10 + index) * DAY_MS
        return {
            "mailingListId": _id("CG_", self.seed, directory, index),
            "name": f"Customers {directory + 1}.{index + 1}",
            "ownerId": self.store.owner_id,
            "creationDate": iso_seconds(created),
            "lastModifiedDate": iso_seconds(created + 5 * DAY_MS),
            "contactCount": 0,
        }

    # --- lookups ---------------------------------------------------------------------------------------

    def directory_contacts(self, directory_id: str) -> list[dict[str, Any]]:
        if directory_id not in self.contacts:
            raise ApiError(404, "NF_1", f"Directory {directory_id} was not found.")
        return self.contacts[directory_id]

    def directory_lists(self, directory_id: str) -> list[dict[str, Any]]:
        if directory_id not in self.mailing_lists:
            raise ApiError(404, "NF_1", f"Directory {directory_id} was not found.")
        return self.mailing_lists[directory_id]

    def mailing_list_contacts(self, directory_id: str, mailing_list_id: str) -> list[dict[str, Any]]:
        lists = {ml["mailingListId"] for ml in self.directory_lists(directory_id)}
        if mailing_list_id not in lists:
            raise ApiError(404, "NF_1", f"Mailing list {mailing_list_id} was not found.")
        return self.list_members[mailing_list_id]

    def all_mailing_lists(self) -> list[tuple[str, dict[str, Any]]]:
        return [(d, ml) for d, lists in self.mailing_lists.items() for ml in lists]

    # --- distributions, derived from the survey and its responses -----------------------------------

    def distributions(self, info: SurveyInfo) -> list[dict[str, Any]]:
        """The survey's distributions, oldest send first; stats are counted from the history."""
        lists = self.all_mailing_lists()
        result = []
        for k in range(DISTRIBUTIONS_PER_SURVEY):
            directory_id, ml = lists[(info.index + k) % len(lists)]
            test = k == DISTRIBUTIONS_PER_SURVEY - 1
            sent = EPOCH_MS - (60 - 20 * k) * DAY_MS - info.index * 3_600_000
            dist_id = self._distribution_id(info, k)
            history = self._history(info, dist_id, ml["mailingListId"], k, sent) if not test else []
            stats = {
                "sent": len(history),
                "failed": 0,
                "started": sum(1 for h in history if h["responseStartedAt"]),
                "bounced": 0,
                "opened": sum(1 for h in history if h["openedAt"]),
                "skipped": 0,
                "finished": sum(1 for h in history if h["responseCompletedAt"]),
                "complaints": 0,
                "blocked": 0,
            }
            result.append(
                {
                    "id": dist_id,
                    "parentDistributionId": None,
                    "ownerId": self.store.owner_id,
                    "organizationId": "simbrand",
                    "requestStatus": "Done",
                    "requestType": "TestEmail" if test else "Invite",
                    "sendDate": iso_seconds(sent),
                    "createdDate": iso_seconds(sent - 3_600_000),
                    "modifiedDate": iso_seconds(sent + 60_000),
                    "headers": {
                        "fromEmail": "noreply@qemailserver.com",
                        "replyToEmail": "research@example.com",
                        "fromName": "Sim Research",
                        "subject": f"Tell us about {info.product}",
                    },
                    "recipients": {
                        "mailingListId": ml["mailingListId"],
                        "contactId": None,
                        "libraryId": directory_id,
                        "sampleId": None,
                    },
                    "message": {
                        "libraryId": _id("UR_", self.seed, "library"),
                        "messageId": _id("MS_", self.seed, k),
                        "messageType": "InviteEmail",
                    },
                    "surveyLink": {
                        "surveyId": info.id,
                        "expirationDate": iso_seconds(sent + 60 * DAY_MS),
                        "linkType": "Individual",
                    },
                    "embeddedData": {"wave": str(k + 1)} if not test else None,
                    "stats": stats,
                }
            )
        return result

    def _distribution_id(self, info: SurveyInfo, k: int) -> str:
        return _id("EMD_", self.seed, info.id, k)

    def survey_of_distribution(self, distribution_id: str) -> SurveyInfo | None:
        """The listed survey that sent a distribution, from an index of ids alone: scanning every
        survey's distributions cost ~2 s a call at 10,000 surveys (quadratic over a history sync)."""
        with self._index_lock:
            for info in self.store.surveys():
                if info.id not in self._indexed:
                    self._indexed.add(info.id)
                    for k in range(DISTRIBUTIONS_PER_SURVEY):
                        self._sender[self._distribution_id(info, k)] = info.id
            sender = self._sender.get(distribution_id)
        try:
            return None if sender is None else self.store.survey(sender)
        except KeyError:  # deleted since
            return None

    def history(self, info: SurveyInfo, distribution_id: str) -> list[dict[str, Any]]:
        for k, dist in enumerate(self.distributions(info)):
            if dist["id"] == distribution_id:
                if dist["requestType"] == "TestEmail":
                    raise ApiError(
                        400,
                        NOT_TEST_EMAIL,
                        f"The email-distribution({distribution_id}) has no recipients and no parent. "
                        "This distribution type may be unsupported.",
                    )
                sent = EPOCH_MS - (60 - 20 * k) * DAY_MS - info.index * 3_600_000
                return self._history(info, distribution_id, dist["recipients"]["mailingListId"], k, sent)
        raise ApiError(404, "NF_1", f"Distribution {distribution_id} was not found.")

    def _history(
        self, info: SurveyInfo, dist_id: str, mailing_list_id: str, wave: int, sent_ms: int
    ) -> list[dict[str, Any]]:
        snap = self.store.snapshot(info.id)
        existing = max(0, snap.total)
        rows = []
        for c, contact in enumerate(self.list_members[mailing_list_id]):
            raw = digest("history", self.seed, dist_id, c)
            stage = raw[0] % len(HISTORY_STATUSES)
            sent = sent_ms + c * 1000
            opened = sent + 600_000 + raw[1] * 1000 if stage >= 1 else None
            started = opened + 30_000 if opened is not None and stage >= 2 else None
            completed = started + 240_000 if started is not None and stage >= 3 else None
            slot = wave * 50 + c
            response_id = snap.codec.encode(slot) if completed is not None and slot < existing else None
            lookup = "MLRP_" + alnum(digest("lookup", self.seed, mailing_list_id, contact["contactId"]), 15)
            rows.append(
                {
                    "contactId": contact["contactId"],
                    "contactLookupId": lookup,
                    "distributionId": dist_id,
                    "status": HISTORY_STATUSES[stage],
                    "surveyLink": f"https://simbrand.qualtrics.com/jfe/form/{info.id}?Q_CHL=email"
                    f"&Q_DL={dist_id}_{info.id[3:]}_{lookup}",
                    "contactFrequencyRuleId": None,
                    "responseId": response_id,
                    "responseCompletedAt": iso_millis(completed) if completed is not None else None,
                    "sentAt": iso_millis(sent),
                    "openedAt": iso_millis(opened) if opened is not None else None,
                    "responseStartedAt": iso_millis(started) if started is not None else None,
                    "surveySessionId": "FS_" + alnum(raw[8:], 15) if started is not None else None,
                }
            )
        return rows

    def event_subscriptions(self, surveys: Sequence[SurveyInfo]) -> list[dict[str, Any]]:
        return [
            {
                "id": _id("SUB_", self.seed, info.id),
                "scope": "simbrand",
                "topics": f"surveyengine.completedResponse.{info.id}",
                "publicationUrl": f"https://hooks.example.com/qualtrics/{info.id}",
                "encrypted": False,
                "successfulCalls": digest("calls", self.seed, info.id)[0],
            }
            for info in surveys
        ]


def filter_by_send_date(
    elements: list[dict[str, Any]], query: Mapping[str, list[str]], parse: Callable[[str, Any], int]
) -> list[dict[str, Any]]:
    """`sendStartDate` is inclusive, `sendEndDate` exclusive, both ISO-8601 (as the export dates)."""
    start = parse("sendStartDate", query["sendStartDate"][0]) if "sendStartDate" in query else None
    end = parse("sendEndDate", query["sendEndDate"][0]) if "sendEndDate" in query else None
    request_type = query.get("distributionRequestType", [None])[0]
    kept = []
    for element in elements:
        sent = parse("sendDate", element["sendDate"])
        if start is not None and sent < start:
            continue
        if end is not None and sent >= end:
            continue
        if request_type is not None and element["requestType"] != request_type:
            continue
        kept.append(element)
    return kept


# --- one Directory per store --------------------------------------------------------------------------

_DIRECTORIES: weakref.WeakKeyDictionary[Store, Directory] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def directory_of(store: Store) -> Directory:
    """One Directory per store, built on first use so surveys-only runs pay nothing for it."""
    with _LOCK:
        found = _DIRECTORIES.get(store)
        if found is None:
            found = _DIRECTORIES[store] = Directory(store)
        return found
