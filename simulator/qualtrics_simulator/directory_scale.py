"""XM Directory, distributions and transactions at enterprise size, built fast enough for a bench.

Turned on by the `contacts`, `distributions` and `transactions` settings (CLI `--contacts` etc.); at 0
the small fixed directory of `directory.py` stays. Everything derives from the seed plus one anchor (the
day the simulator started), so send dates spread over `history_years` before today and a look-back
window of a few weeks holds a realistic share of them:

- contacts: one directory of N contacts; mailing lists are windows of up to 1,000 of them;
- distributions: N in all, spread evenly over the surveys, each to `recipients_per_distribution`
  members of one list; every tenth is a test email (no history);
- transactions: N in all on pseudo-random contacts, in batches of `transactions_per_batch` created one
  after another over the same years.

Generation is a few hashes per item (100,000 contacts and 100,000 transactions in about a second), and
distributions are planned per survey on first use, so a survey never listed costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .ids import mix64

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
LIST_SIZE = 1000
TEST_EVERY = 10


def anchor_ms() -> int:
    """Midnight UTC of the day the simulator started: the 'now' send dates are spread back from."""
    now = int(time.time() * 1000)
    return now - now % DAY_MS


@dataclass(frozen=True)
class DistributionPlan:
    """What a distribution is, before its record and history are rendered."""

    id: str
    survey_id: str
    wave: int
    sent_ms: int
    directory_id: str
    mailing_list_id: str
    test: bool
    recipients: tuple[dict[str, Any], ...]


def list_windows(contacts: int, lists: int) -> list[range]:
    """Member index ranges of each mailing list: windows of up to LIST_SIZE, spread over the contacts."""
    if contacts <= 0 or lists <= 0:
        return []
    size = min(LIST_SIZE, contacts)
    step = max(1, (contacts - size) // max(1, lists - 1)) if lists > 1 else 0
    return [range(m * step, m * step + size) for m in range(lists)]


def distributions_of_survey(total: int, surveys: int, index: int) -> int:
    """How many of `total` distributions survey `index` of `surveys` gets (spread evenly)."""
    if surveys <= 0:
        return 0
    return total // surveys + (1 if index < total % surveys else 0)


def plan_survey(
    seed: int,
    survey_id: str,
    survey_index: int,
    count: int,
    anchor: int,
    years: float,
    lists: Sequence[tuple[str, dict[str, Any], Sequence[dict[str, Any]]]],
    recipients: int,
    make_id: Callable[..., str],
) -> list[DistributionPlan]:
    """A survey's `count` distributions, oldest send first, sent within `years` before `anchor`."""
    span = max(DAY_MS, int(years * YEAR_MS))
    sends = sorted(
        anchor - DAY_MS // 24 - mix64(seed * 1_000_003 + survey_index * 7919 + k) % span for k in range(count)
    )
    plans = []
    for k, sent in enumerate(sends):
        directory_id, ml, members = lists[(survey_index + k) % len(lists)]
        take = min(recipients, len(members))
        start = mix64(seed + survey_index * 31 + k) % max(1, len(members) - take + 1)
        plans.append(
            DistributionPlan(
                id=make_id("EMD_", seed, survey_id, "big", k),
                survey_id=survey_id,
                wave=k,
                sent_ms=sent,
                directory_id=directory_id,
                mailing_list_id=ml["mailingListId"],
                test=k % TEST_EVERY == TEST_EVERY - 1,
                recipients=tuple(members[start : start + take]),
            )
        )
    return plans


class TransactionTable:
    """`transactions` transactions on pseudo-random contacts of one directory, grouped in batches."""

    def __init__(
        self,
        seed: int,
        directory_id: str,
        contacts: Sequence[dict[str, Any]],
        total: int,
        per_batch: int,
        anchor: int,
        years: float,
        make_id: Callable[..., str],
    ) -> None:
        self.seed = seed
        self.directory_id = directory_id
        self.per_batch = max(1, per_batch)
        batches = max(1, -(-total // self.per_batch))
        span = max(DAY_MS, int(years * YEAR_MS))
        first = anchor - span
        self.batch_created = [first + b * span // batches for b in range(batches)]
        self.batch_ids = [make_id("BT_", seed, directory_id, "big", b) for b in range(batches)]
        self._index = {batch_id: b for b, batch_id in enumerate(self.batch_ids)}
        self.rows: list[dict[str, Any]] = []
        self.by_contact: dict[str, list[int]] = {}
        for n in range(total):
            contact = contacts[mix64(seed * 31 + n) % len(contacts)]["contactId"]
            batch = n // self.per_batch
            moment = self.batch_created[batch] - DAY_MS + mix64(seed + n) % DAY_MS
            self.rows.append(
                {
                    "transactionId": make_id("CTR_", seed, directory_id, "big", n),
                    "contactId": contact,
                    "transactionDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment // 1000)),
                    "amount": str(10 + mix64(n) % 490),
                }
            )
            self.by_contact.setdefault(contact, []).append(n)

    def of_contact(self, contact_id: str) -> list[dict[str, Any]]:
        return [self.rows[n] for n in self.by_contact.get(contact_id, ())]

    def members(self, batch_id: str) -> list[dict[str, Any]] | None:
        """The batch's members (`transactionId`, `contactId`); None for a batch it does not hold."""
        b = self._index.get(batch_id)
        if b is None:
            return None
        rows = self.rows[b * self.per_batch : (b + 1) * self.per_batch]
        return [{"transactionId": row["transactionId"], "contactId": row["contactId"]} for row in rows]
