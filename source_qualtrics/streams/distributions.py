"""`distributions` (per survey, incremental on `sendDate`) and `distribution_history` (per distribution).

`GET /distributions` requires `surveyId` and filters server-side on the send date (`sendStartDate`,
inclusive). A distribution's `stats` keep changing for weeks after it is sent (opens, starts, finishes),
so an incremental sync re-reads the distributions sent in the last `STATS_LOOKBACK` before its cursor;
the primary key `id` dedupes them. The cursor never moves past the time of the sync, so a distribution
scheduled for the future cannot hide the ones sent before it.

`distribution_history` lists, per recipient, what happened to one distribution: sent, opened, started,
finished, with the `responseId` that links a contact to their response. Test distributions
(`requestType: "TestEmail"`) have no history (Qualtrics answers 400 `CP_TD_GER_NP`) and are skipped.
A failed history read stays its distribution's (`history_failure`): one warning, the other
distributions go on, and the survey's cursor stays where it was unless the distribution has no history
at all. A history page that keeps timing out (504) is read again in smaller pages first, as Qualtrics
support advises for big distributions (`HISTORY_PAGE_SIZES`).

A history costs one request per distribution (at Qualtrics' 300/minute limit for that endpoint), so an
incremental sync reads only the histories that can still change: those of distributions sent within
`distribution_history_lookback_days` (default 70) before the survey's previous sync. Qualtrics' email
links stay valid 60 days after sending by default, and a started response stays open a week after its
last activity, so opens, starts and completions stop arriving about 67 days after the send.

Both streams read surveys in a few groups (`survey_groups`), so at thousands of surveys the
per-survey state is built and written once per group rather than once per survey or per record.
`distributions` reads the next surveys' lists ahead in worker threads (`QualtricsListStream.read_ahead`).
Histories are a sync's slowest budget (4,500 of them are 17 minutes at 270 a minute), so when the
stream is selected its lists and histories are read from the start of the sync, behind the other
streams, into a spool (`start_read_ahead`, `page_spool.py`), planned from the state the CDK will give
the stream. Either way each survey's records, and then its cursor, come in order on the stream's
thread.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.dates import DateTime, Duration, api_format, now, parse_instant
from source_qualtrics.errors import ConfigError, QualtricsApiError
from source_qualtrics.streams.base import Forbidden, QualtricsListStream
from source_qualtrics.streams.partitioned_state import SurveyStamps, survey_groups

logger = logging.getLogger("airbyte")

STATS_LOOKBACK = Duration(days=14)
TEST_DISTRIBUTION = "TestEmail"
NO_HISTORY_CODE = "CP_TD_GER_NP"
DISTRIBUTION_PERMISSION = "the 'Distribute Surveys' (email distributions) permission on the survey"
DISTRIBUTION_SCOPE = "read:distributions"
# Page sizes a history read steps down through while Qualtrics keeps answering 504 (None: its default,
# 100); once smaller, the rest of the sync keeps the smaller size.
HISTORY_PAGE_SIZES: tuple[int | None, ...] = (None, 50, 20, 5)


class HistoryFailure(enum.Enum):
    """What a failed history read means for its distribution."""

    NONE = "has no readable history"  # a test distribution, or gone: nothing to read, now or later
    LATER = "could not be read in this sync; the next sync reads it again"  # its survey's cursor stays


def history_failure(error: QualtricsApiError) -> HistoryFailure | None:
    """Whether a failed history read is its distribution's alone; None: it is not (the stream fails)."""
    if error.status == 404 or (error.status == 400 and error.error_code == NO_HISTORY_CODE):
        return HistoryFailure.NONE
    if error.status == 400 or error.status >= 500:  # 5xx: after the client's retries (and smaller pages)
        return HistoryFailure.LATER
    return None


class _PerSurvey(QualtricsListStream):
    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        for group in survey_groups(self._sync.survey_ids()):
            yield {"surveyIds": group}


class Distributions(_PerSurvey, IncrementalMixin):
    primary_key = "id"
    cursor_field = "sendDate"
    path = "distributions"
    parent_keys = ("surveyId",)
    permission = DISTRIBUTION_PERMISSION
    scope = DISTRIBUTION_SCOPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors = SurveyStamps(self.cursor_field)
        self._now = now()

    @property
    def name(self) -> str:
        return "distributions"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursors.snapshot

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors.load(value, self.name)

    def request_params(self, stream_slice: Mapping[str, Any], sync_mode: SyncMode) -> dict[str, Any]:
        params: dict[str, Any] = {"surveyId": stream_slice["surveyId"]}
        since: DateTime | None = None
        if sync_mode == SyncMode.incremental:
            stored = parse_instant(self._cursors.get(stream_slice["surveyId"]))
            since = stored - STATS_LOOKBACK if stored else None
        if since is None and self._config is not None and self._config.start_date is not None:
            since = self._config.start_date
        if since is not None:
            params["sendStartDate"] = api_format(since)
        return params

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        surveys = ({"surveyId": survey_id} for survey_id in (stream_slice or {}).get("surveyIds", ()))
        for survey, records in self.children(surveys, sync_mode):
            yield from self.survey_distributions(survey["surveyId"], records, sync_mode)
        self._cursors.checkpoint()

    def survey_distributions(
        self, survey_id: str, records: Iterable[Mapping[str, Any]], sync_mode: SyncMode
    ) -> Iterator[Mapping[str, Any]]:
        """One survey's distributions; its cursor moves to the newest send date once all are out."""
        newest = parse_instant(self._cursors.get(survey_id))
        for record in records:
            sent = parse_instant(record.get(self.cursor_field))
            if sent is not None and sent <= self._now and (newest is None or sent > newest):
                newest = sent
            yield record
        if sync_mode == SyncMode.incremental and newest is not None:
            self._cursors[survey_id] = api_format(newest)


class DistributionHistory(_PerSurvey, IncrementalMixin):
    """Per survey, the histories of its distributions; incremental: those sent within the look-back.

    The cursor of a survey is the start of the last sync that read all its histories (not the newest
    send date: a survey that stopped sending would otherwise re-read its last weeks every night).
    """

    primary_key = ["distributionId", "contactId"]
    cursor_field = "sentAt"  # nominal: the state holds per survey when its histories were last read
    path = "distributions/{distributionId}/history"
    parent_keys = ("surveyId", "distributionId")
    permission = DISTRIBUTION_PERMISSION
    scope = DISTRIBUTION_SCOPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_at = SurveyStamps("readAt")
        self._page_size: int | None = HISTORY_PAGE_SIZES[0]
        self._unread: set[str] = set()  # surveys with a distribution to read again next sync
        self._page_size_lock = threading.Lock()  # histories are read in several threads

    @property
    def name(self) -> str:
        return "distribution_history"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def lookback(self) -> Duration:
        days = self._config.distribution_history_lookback_days if self._config is not None else 70
        return Duration(days=days)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._read_at.snapshot

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._read_at.load(value, self.name)

    def start_read_ahead(self, sync_mode: SyncMode, state: Mapping[str, Any]) -> None:
        """Histories are paced at 270 a minute, the slowest budget of a sync that reads them: they are
        read from the start of the sync, behind the other streams, planned from the state the stream
        will be read with."""
        try:
            self.state = dict(state)
        except ConfigError:
            return  # a damaged state fails the stream at its turn, as it would without the read-ahead
        planned = dict(self._read_at)  # the worker's own copy: the stream moves its cursors as it emits
        self._sync.read_ahead(self.name, lambda: self._chains(sync_mode, planned))

    def _chains(self, sync_mode: SyncMode, read_at: Mapping[str, str]) -> Iterator[tuple[str, Iterable[Any]]]:
        """What a plain read of the stream reads, in its order: each survey's distribution list, then
        the history of each of its distributions that has one, the lists and the histories each
        read ahead in worker threads."""

        def read_list(survey_id: str) -> Iterator[dict[str, Any]]:
            return self._client.paginate("distributions", self.list_params(survey_id, sync_mode, read_at))

        def chains() -> Iterator[tuple[str, Callable[[], Iterable[Any]]]]:
            for survey_id, elements in self.fan_out(self._sync.survey_ids(), read_list):
                key = self.chain_key("distributions", {"surveyId": survey_id})
                try:
                    listed = list(elements)
                except Exception as error:  # the stream meets it at this survey, as a plain read would
                    yield key, functools.partial(failing, error)
                    continue
                yield key, functools.partial(list, listed)
                for distribution_id in readable_ids(listed, log=False):
                    step = {"surveyId": survey_id, "distributionId": distribution_id}
                    yield self.path.format(**step), functools.partial(self.read_history, step)

        for (key, _), elements in self.fan_out(chains(), lambda chain: chain[1]()):
            yield key, elements

    def chain_key(self, path: str, params: Mapping[str, Any] | None) -> str:
        """A survey's distribution list is named by its survey: every survey lists the same path."""
        survey_id = (params or {}).get("surveyId")
        return f"{path}?surveyId={survey_id}" if survey_id else path

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        survey_ids = (stream_slice or {}).get("surveyIds", ())
        for step, pages in self.read_ahead(self.history_steps(survey_ids, sync_mode), self.history_pages):
            if "forbidden" in step:  # this survey's distributions only; its cursor stays
                self.warn_forbidden(str(step["forbidden"]), step["forbidden"].key)
            elif "distributionId" in step:
                yield from self.history_of(step, pages)
            elif sync_mode == SyncMode.incremental and step["surveyId"] not in self._unread:
                self._read_at[step["surveyId"]] = api_format(self._sync.started_at)  # every history is out
        self._read_at.checkpoint()

    def history_steps(self, survey_ids: Iterable[str], sync_mode: SyncMode) -> Iterator[dict[str, Any]]:
        """Per survey, its distribution lists read ahead: a step per distribution whose history to
        read, then the survey itself (all read); or, when its distributions are refused, the refusal."""
        listed = self.read_ahead(
            survey_ids, lambda survey_id: self.readable_distributions(survey_id, sync_mode)
        )
        for survey_id, distribution_ids in listed:
            try:
                ids = list(distribution_ids)
            except Forbidden as forbidden:
                yield {"surveyId": survey_id, "forbidden": forbidden}
                continue
            for distribution_id in ids:
                yield {"surveyId": survey_id, "distributionId": distribution_id}
            yield {"surveyId": survey_id}

    def history_pages(self, step: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """A distribution step's history (read ahead); the other steps read nothing."""
        if "distributionId" not in step:
            return iter(())
        return self.read_back(self.path.format(**step), None, lambda: self.read_history(step))

    def read_history(self, step: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """A distribution's history from Qualtrics (in a worker thread). Pages that keep timing out are
        read again smaller, skipping the recipients already read, here where they are read: a
        read-ahead far ahead of the stream steps down at once rather than failing every history."""
        read: set[Any] = set()
        while True:
            size = self._page_size
            params = {"pageSize": size} if size is not None else None
            try:
                for element in self._client.paginate(self.path.format(**step), params):
                    if element.get("contactId") not in read:
                        read.add(element.get("contactId"))
                        yield element
                return
            except QualtricsApiError as error:
                if error.status == 504 and self._smaller_pages(step, size, error):
                    continue
                raise

    def readable_distributions(self, survey_id: str, sync_mode: SyncMode) -> Iterator[str]:
        """Ids of the survey's distributions to read the history of (test emails have none)."""
        params = self.list_params(survey_id, sync_mode, self._read_at)
        yield from readable_ids(self.paginate_parent("distributions", self.permission, self.scope, params))

    def list_params(self, survey_id: str, sync_mode: SyncMode, read_at: Mapping[str, str]) -> dict[str, Any]:
        """The survey's distributions whose history can still change (all of them on a first sync)."""
        params: dict[str, Any] = {"surveyId": survey_id}
        since: DateTime | None = None
        if sync_mode == SyncMode.incremental:
            last_read = parse_instant(read_at.get(survey_id))
            since = last_read - self.lookback if last_read is not None else None
        start_date = self._config.start_date if self._config is not None else None
        if start_date is not None and (since is None or start_date > since):
            since = start_date
        if since is not None:
            params["sendStartDate"] = api_format(since)
        return params

    def history_of(self, step: Mapping[str, Any], pages: Iterator[Any]) -> Iterator[Mapping[str, Any]]:
        """One distribution's history; a read that fails costs this distribution only."""
        try:
            yield from self.records_of(step, pages)
        except QualtricsApiError as error:
            failure = history_failure(error)
            if failure is None:
                raise
            if failure is HistoryFailure.LATER:
                self._unread.add(step["surveyId"])
            logger.warning(
                "distribution_history: distribution %s of survey %s %s (%s); skipped.",
                step["distributionId"],
                step["surveyId"],
                failure.value,
                error,
            )

    def _smaller_pages(self, step: Mapping[str, Any], asked: int | None, error: QualtricsApiError) -> bool:
        """After a page asked at size `asked` kept timing out: step down to the next smaller size,
        unless another history's read did already; False when the smallest size timed out too."""
        with self._page_size_lock:
            at = HISTORY_PAGE_SIZES.index(asked)
            if HISTORY_PAGE_SIZES.index(self._page_size) > at:
                return True
            if at + 1 >= len(HISTORY_PAGE_SIZES):
                return False
            self._page_size = HISTORY_PAGE_SIZES[at + 1]
        self.warn_forbidden(
            f"distribution_history: a history page of distribution {step['distributionId']} kept timing "
            f"out ({error}); histories are read {self._page_size} recipients per page from now on, as "
            "Qualtrics advises for big distributions.",
            "history page size",
        )
        return True


def readable_ids(elements: Iterable[Mapping[str, Any]], *, log: bool = True) -> Iterator[str]:
    """The ids of listed distributions that have a history (a test email has none)."""
    for element in elements:
        distribution_id = element.get("id")
        if not isinstance(distribution_id, str) or not distribution_id:
            continue
        if element.get("requestType") == TEST_DISTRIBUTION:
            if log:
                logger.info("distribution_history: %s is a test email without history", distribution_id)
            continue
        yield distribution_id


def failing(error: BaseException) -> Iterator[Any]:
    """A read that fails with `error` (one that failed already, met again where the stream reads it)."""
    raise error
