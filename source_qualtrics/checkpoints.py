"""When the export-fed streams let the CDK write a STATE: in proportion to the work it protects.

Every STATE carries the whole per-survey state (about 360 bytes a survey), so one STATE per finished
export makes a sync write state bytes in proportion to the *square* of the survey count: 3.6 MB,
10,000 times, at 10,000 surveys. The policy:

- an export of a backfill (a window or chunk of a survey too big for one export) or any export of
  `BIG_EXPORT_RECORDS` records or more is checkpointed right after its records: repeating it after a
  kill would cost more than its STATE;
- small exports share a checkpoint: one after every `ceil(surveys / SMALL_SHARES)` of them, so they
  cause at most `SMALL_SHARES` STATEs a sync whatever the survey count.

A kill therefore repeats at most the exports in flight plus one share of small exports (an eighth of
the sync's surveys); never an export whose records came before a STATE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BIG_EXPORT_RECORDS = 10_000
SMALL_SHARES = 8


@dataclass
class CheckpointPolicy:
    surveys: int
    _small_since: int = field(default=0, init=False)

    @property
    def share(self) -> int:
        """Small exports per shared checkpoint."""
        return max(1, math.ceil(self.surveys / SMALL_SHARES))

    def due(self, *, records: int, backfill: bool) -> bool:
        """After an export's records were emitted: whether the CDK should write the state now."""
        if backfill or records >= BIG_EXPORT_RECORDS:
            self._small_since = 0
            return True
        self._small_since += 1
        if self._small_since >= self.share:
            self._small_since = 0
            return True
        return False
