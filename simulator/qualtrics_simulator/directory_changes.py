"""What happens to a brand's distributions and contacts after the simulator starts, for incremental tests.

Three admin mutations, each the kind of change a nightly sync must bring:

- `POST /__admin/surveys/{surveyId}/distributions`: a new invitation sent now to a few contacts;
- `POST /__admin/distributions/{distributionId}/opens` (`{"contactId": ...}` optional): a recipient
  opens the email now (history status `Opened`, `openedAt` now, `stats.opened` one more);
- `POST /__admin/directories/{directoryId}/transactions` (`{"contactIds": [...], "count": 1}`): new
  transactions on each contact (the directory's first by default), in one new batch created now.

They are kept here, beside the generated data and never inside it, so generation stays a pure
function of the config; their admin routes are in admin.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .directory_scale import DistributionPlan


@dataclass
class AddedBatch:
    batch_id: str
    created_ms: int
    members: list[dict[str, Any]] = field(default_factory=list)


class DirectoryChanges:
    """Distributions, opens and transactions added at runtime; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.distributions: dict[str, list[DistributionPlan]] = {}
        self.opens: dict[str, dict[str, int]] = {}
        self.transactions: dict[str, list[dict[str, Any]]] = {}
        self.batches: dict[str, list[AddedBatch]] = {}
        self.counter = 0

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def added_distributions(self, survey_id: str) -> list[DistributionPlan]:
        with self.lock:
            return list(self.distributions.get(survey_id, ()))

    def add_distribution(self, plan: DistributionPlan) -> None:
        with self.lock:
            self.distributions.setdefault(plan.survey_id, []).append(plan)

    def opened(self, distribution_id: str) -> dict[str, int]:
        with self.lock:
            return dict(self.opens.get(distribution_id, {}))

    def record_open(self, distribution_id: str, contact_id: str, at_ms: int) -> None:
        with self.lock:
            self.opens.setdefault(distribution_id, {})[contact_id] = at_ms

    def added_transactions(self, contact_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.transactions.get(contact_id, ()))

    def added_batches(self, directory_id: str) -> list[AddedBatch]:
        with self.lock:
            return list(self.batches.get(directory_id, ()))

    def add_transactions(self, directory_id: str, batch: AddedBatch, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            for row in rows:
                self.transactions.setdefault(row["contactId"], []).append(row)
                batch.members.append({"transactionId": row["transactionId"], "contactId": row["contactId"]})
            self.batches.setdefault(directory_id, []).append(batch)


def now_ms() -> int:
    return int(time.time() * 1000)
