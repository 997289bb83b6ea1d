"""Survey and response state, and the mutations the admin API performs on it.

A response is a slot number. Base slots [0, base_count) exist implicitly and are generated on demand;
only mutations (added, edited, deleted slots) are stored. Every mutation takes the next value of one
monotonic sequence number, which continuation tokens use as a race-free watermark.
"""

from __future__ import annotations

import bisect
import heapq
import random
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from .config import SimulatorConfig
from .data import EPOCH_MS, SurveyInfo, base_recorded_ms, extra_questions_for, survey_dates, survey_name
from .ids import ResponseIdCodec, survey_id, user_id

IN_PROGRESS_BASE = 1 << 40  # slot namespace of unfinished responses, disjoint from completed ones


class UnknownSurvey(KeyError):
    """The survey id does not exist (or was deleted)."""


class UnknownResponse(KeyError):
    """A response id that is not an existing response of the survey."""


@dataclass(frozen=True)
class Edit:
    version: int
    modified_ms: int
    seq: int


@dataclass(frozen=True)
class Row:
    """One response selected for export."""

    slot: int
    recorded_ms: int
    version: int = 0
    modified_ms: int | None = None

    @property
    def last_modified_ms(self) -> int:
        return self.modified_ms if self.modified_ms is not None else self.recorded_ms


@dataclass
class SurveyState:
    info: SurveyInfo
    codec: ResponseIdCodec
    base_count: int
    in_progress: int
    added_recorded: list[int] = field(default_factory=list)
    added_seq: list[int] = field(default_factory=list)
    edits: dict[int, Edit] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.base_count + len(self.added_recorded)

    def exists(self, slot: int) -> bool:
        return 0 <= slot < self.total and slot not in self.deleted


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of one survey taken when an export starts, so builds never race mutations."""

    info: SurveyInfo
    codec: ResponseIdCodec
    base_count: int
    in_progress: int
    added_recorded: tuple[int, ...]
    added_seq: tuple[int, ...]
    edits: dict[int, Edit]
    deleted: frozenset[int]
    seq: int

    @property
    def total(self) -> int:
        return self.base_count + len(self.added_recorded)

    def recorded_ms(self, slot: int) -> int:
        if slot < self.base_count:
            info = self.info
            return base_recorded_ms(info.seed, info.index, slot, self.base_count, info.busy_week_fraction)
        return self.added_recorded[slot - self.base_count]

    def alive_count(self) -> int:
        return self.total - len(self.deleted)

    def _slot_range(self, start_ms: int | None, end_ms: int | None) -> range:
        slots = range(self.total)
        lo = 0 if start_ms is None else bisect.bisect_left(slots, start_ms, key=self.recorded_ms)
        hi = self.total if end_ms is None else bisect.bisect_left(slots, end_ms, key=self.recorded_ms)
        return range(lo, max(lo, hi))

    def _added_since(self, since_seq: int) -> range:
        first = bisect.bisect_right(self.added_seq, since_seq)
        return range(self.base_count + first, self.total)

    def select(
        self, start_ms: int | None, end_ms: int | None, since_seq: int | None, by_modified: bool
    ) -> tuple[Iterator[Row], int]:
        """Rows in export order plus an upper bound of their count (for percentComplete)."""
        if not by_modified:
            slots = self._slot_range(start_ms, end_ms) if since_seq is None else self._added_since(since_seq)
            return self._recorded_rows(slots, start_ms, end_ms, skip_edited=False), len(slots)
        slots = self._slot_range(start_ms, end_ms) if since_seq is None else self._added_since(since_seq)
        edited = sorted(
            (e.modified_ms, e.seq, slot)
            for slot, e in self.edits.items()
            if (since_seq is None or e.seq > since_seq)
            and (start_ms is None or e.modified_ms >= start_ms)
            and (end_ms is None or e.modified_ms < end_ms)
        )
        edited_rows = (
            Row(slot, self.recorded_ms(slot), self.edits[slot].version, modified)
            for modified, _, slot in edited
        )
        unedited = self._recorded_rows(slots, start_ms, end_ms, skip_edited=True)
        merged = heapq.merge(unedited, edited_rows, key=lambda r: r.last_modified_ms)
        return merged, len(slots) + len(edited)

    def _recorded_rows(
        self, slots: Iterable[int], start_ms: int | None, end_ms: int | None, skip_edited: bool
    ) -> Iterator[Row]:
        deleted, edits = self.deleted, self.edits
        for slot in slots:
            if slot in deleted:
                continue
            edit = edits.get(slot)
            if edit is not None and skip_edited:
                continue
            recorded = self.recorded_ms(slot)
            if (start_ms is not None and recorded < start_ms) or (end_ms is not None and recorded >= end_ms):
                continue
            if edit is None:
                yield Row(slot, recorded)
            else:
                yield Row(slot, recorded, edit.version, edit.modified_ms)

    def in_progress_rows(self, start_ms: int | None, end_ms: int | None) -> Iterator[Row]:
        for k in range(self.in_progress):
            recorded = EPOCH_MS - 3_600_000 * (k + 1) - (self.info.index * 7919 + k) % 3_600_000
            if (start_ms is None or recorded >= start_ms) and (end_ms is None or recorded < end_ms):
                yield Row(IN_PROGRESS_BASE + k, recorded)


class ResponseIds(Collection[str]):
    """Lazy view of existing response ids: len/in are O(1); iteration streams in recorded order."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def __len__(self) -> int:
        return self._snap.alive_count()

    def __iter__(self) -> Iterator[str]:
        encode, deleted = self._snap.codec.encode, self._snap.deleted
        return (encode(slot) for slot in range(self._snap.total) if slot not in deleted)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        slot = self._snap.codec.decode(item)
        return slot is not None and 0 <= slot < self._snap.total and slot not in self._snap.deleted


class Store:
    """All surveys of the simulated brand; thread-safe."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.seq = 0
        self.owner_id = user_id(config.seed)
        self._surveys: dict[str, SurveyState] = {}
        self._order: list[str] = []
        self._removed: set[str] = set()
        self._last_ms = EPOCH_MS
        self._listing: list[SurveyInfo] | None = None  # surveys() cache: every /surveys page reads it
        for _ in range(config.surveys):
            self._create_survey(None, config.responses_per_survey, None, config.generated_per_survey)

    # --- reads -----------------------------------------------------------------------------------------

    def _state(self, sid: str) -> SurveyState:
        state = self._surveys.get(sid)
        if state is None or sid in self._removed:
            raise UnknownSurvey(sid)
        return state

    def survey(self, sid: str) -> SurveyInfo:
        with self.lock:
            return self._state(sid).info

    def surveys(self) -> list[SurveyInfo]:
        with self.lock:
            if self._listing is None:
                self._listing = [self._surveys[s].info for s in self._order if s not in self._removed]
            return list(self._listing)

    def counts(self, sid: str) -> dict[str, int]:
        """`responseCounts` of GET /surveys/{id}: a full export returns auditable + generated responses.

        auditable = existing real responses, generated = existing test/preview responses,
        deleted = every deleted response; edits change none of them, in-progress ones are not counted.
        """
        with self.lock:
            state = self._state(sid)
            status = state.info.generated_status
            generated = state.info.generated_responses - sum(1 for slot in state.deleted if status(slot))
            alive = state.total - len(state.deleted)
            return {"auditable": alive - generated, "generated": generated, "deleted": len(state.deleted)}

    def snapshot(self, sid: str) -> Snapshot:
        with self.lock:
            s = self._state(sid)
            return Snapshot(
                info=s.info,
                codec=s.codec,
                base_count=s.base_count,
                in_progress=s.in_progress,
                added_recorded=tuple(s.added_recorded),
                added_seq=tuple(s.added_seq),
                edits=dict(s.edits),
                deleted=frozenset(s.deleted),
                seq=self.seq,
            )

    def response_ids(self, sid: str) -> ResponseIds:
        """Ground truth: ids of existing completed responses, as a lazy collection."""
        return ResponseIds(self.snapshot(sid))

    # --- mutations ---------------------------------------------------------------------------------------

    def _tick(self) -> int:
        """A non-decreasing wall-clock ms, so added responses keep recorded order == slot order."""
        self._last_ms = max(self._last_ms, int(time.time() * 1000))
        return self._last_ms

    def _create_survey(
        self, name: str | None, responses: int, created_ms: int | None, generated: int = 0
    ) -> str:
        index = len(self._order)
        sid = survey_id(self.config.seed, index)
        created, modified = survey_dates(self.config.seed, index)
        if created_ms is not None:
            created = modified = created_ms
        info = SurveyInfo(
            id=sid,
            index=index,
            name=name or survey_name(self.config.seed, index),
            owner_id=self.owner_id,
            creation_ms=created,
            modified_ms=modified,
            seed=self.config.seed,
            base_responses=responses,
            generated_responses=min(responses, generated),
            busy_week_fraction=self.config.skew_week_fraction,
            extra_questions=extra_questions_for(self.config.values_per_response or 0),
        )
        codec = ResponseIdCodec(self.config.seed, sid)
        self._surveys[sid] = SurveyState(info, codec, responses, self.config.in_progress_per_survey)
        self._order.append(sid)
        self._listing = None
        return sid

    def add_survey(self, name: str | None = None, responses: int = 0) -> str:
        with self.lock:
            self.seq += 1
            return self._create_survey(name, responses, self._tick())

    def delete_survey(self, sid: str) -> None:
        with self.lock:
            self._state(sid)
            self.seq += 1
            self._removed.add(sid)
            self._listing = None

    def add_responses(self, sid: str, count: int) -> list[str]:
        with self.lock:
            state = self._state(sid)
            now = self._tick()
            ids = []
            for _ in range(count):
                self.seq += 1
                slot = state.total
                state.added_recorded.append(now)
                state.added_seq.append(self.seq)
                ids.append(state.codec.encode(slot))
            return ids

    def _slots_for(self, state: SurveyState, response_ids: Iterable[str]) -> list[int]:
        slots = []
        for rid in response_ids:
            slot = state.codec.decode(rid)
            if slot is None or not state.exists(slot):
                raise UnknownResponse(rid)
            slots.append(slot)
        return slots

    def _pick(self, state: SurveyState, count: int) -> list[int]:
        """Deterministic choice of `count` distinct existing slots (all of them if fewer exist)."""
        alive = state.total - len(state.deleted)
        if count >= alive:
            return [s for s in range(state.total) if s not in state.deleted]
        rng = random.Random(f"{self.config.seed}|{state.info.id}|pick|{self.seq}")
        chosen: dict[int, None] = {}
        while len(chosen) < count:
            slot = rng.randrange(state.total)
            if slot not in state.deleted:
                chosen[slot] = None
        return list(chosen)

    def edit_responses(
        self, sid: str, response_ids: list[str] | None = None, count: int | None = None
    ) -> list[str]:
        with self.lock:
            state = self._state(sid)
            slots = (
                self._slots_for(state, response_ids)
                if response_ids is not None
                else self._pick(state, count or 0)
            )
            now = self._tick()
            for slot in slots:
                self.seq += 1
                previous = state.edits.get(slot)
                state.edits[slot] = Edit((previous.version if previous else 0) + 1, now, self.seq)
            return [state.codec.encode(slot) for slot in slots]

    def touch_surveys(
        self, survey_ids: list[str] | None, fraction: float | None, add: int, edit: int
    ) -> dict[str, dict[str, list[str]]]:
        """Add `add` and edit `edit` responses in each of many surveys under one lock: the named ones, or
        `fraction` of the listed surveys (at least one when above 0), picked deterministically.

        One call changes 1% of 10,000 surveys, where calls per survey would cost 100 to 200 round trips.
        """
        with self.lock:
            if survey_ids is not None:
                chosen = list(dict.fromkeys(survey_ids))
                for sid in chosen:
                    self._state(sid)
            else:
                listed = [info.id for info in self.surveys()]
                wanted = round(len(listed) * (fraction or 0.0))
                wanted = min(len(listed), max(wanted, 1 if fraction else 0))
                rng = random.Random(f"{self.config.seed}|touch|{self.seq}")
                picked = set(rng.sample(listed, wanted))
                chosen = [sid for sid in listed if sid in picked]
            return {
                sid: {
                    "added": self.add_responses(sid, add) if add else [],
                    "edited": self.edit_responses(sid, count=edit) if edit else [],
                }
                for sid in chosen
            }

    def delete_responses(self, sid: str, response_ids: list[str]) -> list[str]:
        with self.lock:
            state = self._state(sid)
            slots = self._slots_for(state, response_ids)
            self.seq += 1
            for slot in slots:
                state.deleted.add(slot)
                state.edits.pop(slot, None)
            return [state.codec.encode(slot) for slot in slots]
