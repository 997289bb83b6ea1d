"""SMS distributions: `GET /distributions/sms?surveyId=` (required), paged by `skipToken`.

Qualtrics lists SMS distributions apart from email ones, under their own id prefix (`SMSD_`) and shape
(Qualtrics' API reference, *SMS Distributions*: create, list, get, delete): a `name` and a `surveyId`,
`recipients` (mailing list, contact, transaction or batch), `message` (library message or text), and
`stats` with the SMS-only `credits` and `segments` (a text longer than one SMS is sent, and billed, as
several segments). No email headers, no survey-link object, and no per-recipient history endpoint.

Each survey has an invitation and, a week later, its reminder, derived from the seed; more can be added
at runtime (admin API), sent now.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from .data import EPOCH_MS, SurveyInfo, iso_seconds
from .directory import Directory
from .ids import alnum, digest
from .store import Store

DAY_MS = 86_400_000
SMS_PER_SURVEY = 2  # an invitation and its reminder
SEGMENT_CHARACTERS = 160


@dataclass(frozen=True)
class SmsPlan:
    id: str
    survey_id: str
    number: int
    sent_ms: int
    method: str  # Invite, Reminder (Qualtrics also has Interactive and ThankYou)


class SmsDistributions:
    """The brand's SMS distributions per survey: derived ones, then those added at runtime."""

    def __init__(self, store: Store, directory: Directory) -> None:
        self.store = store
        self.directory = directory
        self.seed = store.config.seed
        self._lock = threading.Lock()
        self._added: dict[str, list[SmsPlan]] = {}

    def _sms_id(self, survey_id: str, number: int) -> str:
        return "SMSD_" + alnum(digest("SMSD_", self.seed, survey_id, number), 15)

    def plans(self, info: SurveyInfo) -> list[SmsPlan]:
        first_ms = EPOCH_MS - 45 * DAY_MS - info.index * 3_600_000
        derived = [
            SmsPlan(self._sms_id(info.id, 0), info.id, 0, first_ms, "Invite"),
            SmsPlan(self._sms_id(info.id, 1), info.id, 1, first_ms + 7 * DAY_MS, "Reminder"),
        ]
        with self._lock:
            return derived + list(self._added.get(info.id, ()))

    def add(self, info: SurveyInfo, sent_ms: int) -> SmsPlan:
        """An SMS invitation sent now (admin API)."""
        with self._lock:
            added = self._added.setdefault(info.id, [])
            number = SMS_PER_SURVEY + len(added)
            plan = SmsPlan(self._sms_id(info.id, number), info.id, number, sent_ms, "Invite")
            added.append(plan)
            return plan

    def records(self, info: SurveyInfo) -> list[dict[str, Any]]:
        return [self._record(info, plan) for plan in self.plans(info)]

    def _record(self, info: SurveyInfo, plan: SmsPlan) -> dict[str, Any]:
        lists = self.directory.all_mailing_lists()
        directory_id, mailing_list = lists[(info.index + plan.number) % len(lists)]
        raw = digest("sms", self.seed, plan.id)
        sent = len(self.directory.list_members[mailing_list["mailingListId"]])
        failed = raw[0] % 2 if sent else 0
        started = (sent - failed) * (40 + raw[1] % 30) // 100
        text = f"{info.product}: tell us how we did. Reply STOP to opt out. " * (1 + raw[2] % 3)
        segments_each = -(-len(text) // SEGMENT_CHARACTERS)
        library = "UR_" + alnum(digest("UR_", self.seed, "library"), 15)
        return {
            "id": plan.id,
            "ownerId": self.store.owner_id,
            "organizationId": "simbrand",
            "requestStatus": "Done",
            "requestType": plan.method,
            "sendDate": iso_seconds(plan.sent_ms),
            "surveyId": info.id,
            "name": f"{info.product} SMS {plan.method.lower()} {plan.number + 1}",
            "recipients": {
                "mailingListId": mailing_list["mailingListId"],
                "contactId": None,
                "libraryId": directory_id,
                "sampleId": None,
                "transactionId": None,
                "transactionBatchId": None,
            },
            "message": {"libraryId": library, "messageId": None, "messageText": text.strip()},
            "stats": {
                "sent": sent - failed,
                "failed": failed,
                "started": started,
                "finished": started * 3 // 4,
                "credits": (sent - failed) * segments_each * (1 + raw[3] % 2),  # some countries cost 2
                "segments": (sent - failed) * segments_each,
            },
        }


_SMS: weakref.WeakKeyDictionary[Store, SmsDistributions] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def sms_of(store: Store, directory: Directory) -> SmsDistributions:
    """One SmsDistributions per store, built on first use."""
    with _LOCK:
        found = _SMS.get(store)
        if found is None:
            found = _SMS[store] = SmsDistributions(store, directory)
        return found
