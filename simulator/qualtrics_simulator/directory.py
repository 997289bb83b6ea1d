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
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .data import EPOCH_MS, SurveyInfo, iso_millis, iso_seconds
from .directory_changes import AddedBatch, DirectoryChanges
from .directory_scale import (
    DistributionPlan,
    TransactionTable,
    anchor_ms,
    distributions_of_survey,
    list_windows,
    plan_survey,
)
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


def no_history(distribution_id: str) -> ApiError:
    """What Qualtrics answers for the history of a test distribution (recorded by another client)."""
    return ApiError(
        400,
        NOT_TEST_EMAIL,
        f"The email-distribution({distribution_id}) has no recipients and no parent. "
        "This distribution type may be unsupported.",
    )


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
        config = store.config
        sizes = (config.contacts or CONTACTS_PER_DIRECTORY[0], *CONTACTS_PER_DIRECTORY[1:])
        self.directories = [self._directory(i) for i in range(DIRECTORIES)]
        self.contacts = {
            d["directoryId"]: [self._contact(i, c) for c in range(sizes[i])]
            for i, d in enumerate(self.directories)
        }
        self.contact_index = {
            contact["contactId"]: d for d, contacts in self.contacts.items() for contact in contacts
        }
        for d in self.directories:
            d["contactCount"] = len(self.contacts[d["directoryId"]])
        self.mailing_lists: dict[str, list[dict[str, Any]]] = {}
        self.list_members: dict[str, list[dict[str, Any]]] = {}
        for i, d in enumerate(self.directories):
            lists = []
            contacts = self.contacts[d["directoryId"]]
            if i == 0 and config.contacts:  # at size: windows of the directory, shared dicts
                windows = list_windows(len(contacts), config.mailing_lists)
                member_lists = [contacts[w.start : w.stop] for w in windows]
            else:
                member_lists = [
                    [
                        dict(contact)
                        for c, contact in enumerate(contacts)
                        if digest("ml-member", seed, i, m, c)[0] % 3 != 0
                    ]
                    for m in range(MAILING_LISTS_PER_DIRECTORY)
                ]
            for m, members in enumerate(member_lists):
                ml = self._mailing_list(i, m)
                ml["contactCount"] = len(members)
                self.list_members[ml["mailingListId"]] = members
                lists.append(ml)
            self.mailing_lists[d["directoryId"]] = lists
        self.changes = DirectoryChanges()
        self.anchor_ms = anchor_ms()
        self._plans: dict[str, list[DistributionPlan]] = {}
        self._plan_index: dict[str, DistributionPlan] = {}
        self._transactions: TransactionTable | None = None

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

    def plans(self, info: SurveyInfo) -> list[DistributionPlan]:
        """The survey's distributions (generated, then those added at runtime), oldest send first."""
        if info.id not in self._plans:
            config = self.store.config
            if config.distributions:
                lists = [
                    (d, ml, self.list_members[ml["mailingListId"]]) for d, ml in self.all_mailing_lists()
                ]
                count = distributions_of_survey(config.distributions, config.surveys, info.index)
                planned = plan_survey(
                    self.seed,
                    info.id,
                    info.index,
                    count,
                    self.anchor_ms,
                    config.history_years,
                    lists,
                    config.recipients_per_distribution,
                    _id,
                )
            else:
                planned = [self._small_plan(info, k) for k in range(DISTRIBUTIONS_PER_SURVEY)]
            self._plans[info.id] = planned
            self._plan_index.update((plan.id, plan) for plan in planned)
        return self._plans[info.id] + self.changes.added_distributions(info.id)

    def _small_plan(self, info: SurveyInfo, k: int) -> DistributionPlan:
        lists = self.all_mailing_lists()
        directory_id, ml = lists[(info.index + k) % len(lists)]
        return DistributionPlan(
            id=_id("EMD_", self.seed, info.id, k),
            survey_id=info.id,
            wave=k,
            sent_ms=EPOCH_MS - (60 - 20 * k) * DAY_MS - info.index * 3_600_000,
            directory_id=directory_id,
            mailing_list_id=ml["mailingListId"],
            test=k == DISTRIBUTIONS_PER_SURVEY - 1,
            recipients=tuple(self.list_members[ml["mailingListId"]]),
        )

    def find_plan(self, distribution_id: str) -> DistributionPlan:
        """A distribution by id (planning every survey's distributions on first use)."""
        if distribution_id not in self._plan_index:
            for info in self.store.surveys():
                self.plans(info)
                if distribution_id in self._plan_index:
                    break
        plan = self._plan_index.get(distribution_id)
        if plan is None:
            raise ApiError(404, "NF_1", f"Distribution {distribution_id} was not found.")
        return plan

    def new_distribution(self, info: SurveyInfo, sent_ms: int) -> DistributionPlan:
        """An invitation sent now to the first few members of one of the brand's lists (admin API)."""
        number = self.changes.next_number()
        lists = self.all_mailing_lists()
        directory_id, ml = lists[number % len(lists)]
        members = self.list_members[ml["mailingListId"]]
        plan = DistributionPlan(
            id=_id("EMD_", self.seed, info.id, "added", number),
            survey_id=info.id,
            wave=len(self.plans(info)),
            sent_ms=sent_ms,
            directory_id=directory_id,
            mailing_list_id=ml["mailingListId"],
            test=False,
            recipients=tuple(members[: max(1, self.store.config.recipients_per_distribution)]),
        )
        self.changes.add_distribution(plan)
        self._plan_index[plan.id] = plan
        return plan

    def open_email(self, distribution_id: str, contact_id: str | None, at_ms: int) -> str:
        """A recipient opens the invitation now: the named one, else the first who had not (admin API)."""
        plan = self.find_plan(distribution_id)
        if plan.test:
            raise ValueError(f"{distribution_id} is a test email: it has no history")
        info = self.store.survey(plan.survey_id)
        rows = [r for r in self._history(info, plan) if contact_id in (None, r["contactId"])]
        unopened = [r["contactId"] for r in rows if r["openedAt"] is None]
        chosen = (unopened or [r["contactId"] for r in rows] or [None])[0]
        if chosen is None:
            raise ApiError(404, "NF_1", f"Contact {contact_id} is not a recipient of {distribution_id}.")
        self.changes.record_open(distribution_id, chosen, at_ms)
        return chosen

    def distributions(self, info: SurveyInfo) -> list[dict[str, Any]]:
        """The survey's distributions, oldest send first; stats are counted from the history."""
        return [self._record(info, plan) for plan in self.plans(info)]

    def _record(self, info: SurveyInfo, plan: DistributionPlan) -> dict[str, Any]:
        history = self._history(info, plan) if not plan.test else []
        sent = plan.sent_ms
        k = plan.wave
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
        return {
            "id": plan.id,
            "parentDistributionId": None,
            "ownerId": self.store.owner_id,
            "organizationId": "simbrand",
            "requestStatus": "Done",
            "requestType": "TestEmail" if plan.test else "Invite",
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
                "mailingListId": plan.mailing_list_id,
                "contactId": None,
                "libraryId": plan.directory_id,
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
            "embeddedData": {"wave": str(k + 1)} if not plan.test else None,
            "stats": stats,
        }

    def history(self, info: SurveyInfo, distribution_id: str) -> list[dict[str, Any]]:
        plan = self.find_plan(distribution_id)
        if plan.survey_id != info.id:
            raise ApiError(404, "NF_1", f"Distribution {distribution_id} was not found.")
        if plan.test:
            raise no_history(distribution_id)
        return self._history(info, plan)

    def _history(self, info: SurveyInfo, plan: DistributionPlan) -> list[dict[str, Any]]:
        snap = self.store.snapshot(info.id)
        existing = max(0, snap.total)
        opens = self.changes.opened(plan.id)
        dist_id, mailing_list_id, wave = plan.id, plan.mailing_list_id, plan.wave
        rows = []
        for c, contact in enumerate(plan.recipients):
            raw = digest("history", self.seed, dist_id, c)
            stage = raw[0] % len(HISTORY_STATUSES)
            sent = plan.sent_ms + c * 1000
            opened = sent + 600_000 + raw[1] * 1000 if stage >= 1 else None
            started = opened + 30_000 if opened is not None and stage >= 2 else None
            completed = started + 240_000 if started is not None and stage >= 3 else None
            if opened is None and contact["contactId"] in opens:
                opened, stage = opens[contact["contactId"]], 1
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

    # --- transactions ----------------------------------------------------------------------------------

    def transaction_table(self) -> TransactionTable | None:
        """The generated transactions at size (`transactions` > 0, default directory), built on first use."""
        config = self.store.config
        if not config.transactions:
            return None
        with _LOCK:
            if self._transactions is None:
                directory_id = self.directories[0]["directoryId"]
                self._transactions = TransactionTable(
                    self.seed,
                    directory_id,
                    self.contacts[directory_id],
                    config.transactions,
                    config.transactions_per_batch,
                    self.anchor_ms,
                    config.history_years,
                    _id,
                )
            return self._transactions

    def add_transactions(
        self, directory_id: str, contact_ids: list[str] | None, count: int, at_ms: int
    ) -> tuple[str, list[str]]:
        """`count` new transactions on each contact (the first by default), in one new batch (admin API)."""
        contacts = self.directory_contacts(directory_id)
        chosen = contact_ids or [contacts[0]["contactId"]]
        for contact_id in chosen:
            if self.contact_index.get(contact_id) != directory_id:
                raise ApiError(404, "NF_1", f"Contact {contact_id} was not found.")
        number = self.changes.next_number()
        batch = AddedBatch(_id("BT_", self.seed, directory_id, "added", number), at_ms)
        lists = [ml["mailingListId"] for ml in self.directory_lists(directory_id)]
        moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at_ms // 1000))
        rows: list[dict[str, Any]] = [
            {
                "transactionId": _id("CTR_", self.seed, contact_id, "added", number, n),
                "contactId": contact_id,
                "mailingListId": lists[0] if lists else None,
                "transactionDate": moment,
                "data": {"amount": str(20 + n), "currency": "USD", "productNumber": "Checking"},
            }
            for contact_id in chosen
            for n in range(count)
        ]
        self.changes.add_transactions(directory_id, batch, rows)
        return batch.batch_id, [str(row["transactionId"]) for row in rows]

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
