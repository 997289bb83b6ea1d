"""`distributions` (per survey, incremental on `sendDate`) and `distribution_history` (per distribution).

`GET /distributions` requires `surveyId` and filters server-side on the send date (`sendStartDate`,
inclusive). A distribution's `stats` keep changing for weeks after it is sent (opens, starts, finishes),
so an incremental sync re-reads the distributions sent in the last `STATS_LOOKBACK` before its cursor;
the primary key `id` dedupes them. The cursor never moves past the time of the sync, so a distribution
scheduled for the future cannot hide the ones sent before it.

`distribution_history` lists, per recipient, what happened to one distribution: sent, opened, started,
finished, with the `responseId` that links a contact to their response. Test distributions
(`requestType: "TestEmail"`) have no history (Qualtrics answers 400 `CP_TD_GER_NP`) and are skipped.
It costs one request per distribution (at Qualtrics' 300/minute limit for that endpoint), so an
incremental sync reads only the histories that can still change: those of distributions sent within
`distribution_history_lookback_days` (default 70) before the survey's previous sync. Qualtrics' email
links stay valid 60 days after sending by default, and a started response stays open a week after its
last activity, so opens, starts and completions stop arriving about 67 days after the send.

Both streams read surveys in a few groups (`survey_groups`), so at thousands of surveys the
per-survey state is built and written once per group rather than once per survey or per record.
Within a group the next surveys' distributions and histories are read ahead in worker threads
(`QualtricsListStream.read_ahead`); each survey's records, and then its cursor, come in order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.dates import DateTime, Duration, api_format, now, parse_instant
from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import Forbidden, QualtricsListStream
from source_qualtrics.streams.partitioned_state import SurveyStamps, survey_groups

logger = logging.getLogger("airbyte")

STATS_LOOKBACK = Duration(days=14)
TEST_DISTRIBUTION = "TestEmail"
NO_HISTORY_CODE = "CP_TD_GER_NP"
DISTRIBUTION_PERMISSION = "the 'Distribute Surveys' (email distributions) permission on the survey"
DISTRIBUTION_SCOPE = "read:distributions"


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
                yield from self.records_of(step, pages)
            elif sync_mode == SyncMode.incremental:  # every history of the survey is out
                self._read_at[step["surveyId"]] = api_format(self._sync.started_at)
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
        """A distribution step's history (in a worker thread); the other steps read nothing."""
        return self._client.paginate(self.path.format(**step)) if "distributionId" in step else iter(())

    def readable_distributions(self, survey_id: str, sync_mode: SyncMode) -> Iterator[str]:
        """Ids of the survey's distributions to read the history of (test emails have none)."""
        params = self.list_params(survey_id, sync_mode)
        for element in self.paginate_parent("distributions", self.permission, self.scope, params):
            distribution_id = element.get("id")
            if not isinstance(distribution_id, str) or not distribution_id:
                continue
            if element.get("requestType") == TEST_DISTRIBUTION:
                logger.info("distribution_history: %s is a test email without history", distribution_id)
                continue
            yield distribution_id

    def list_params(self, survey_id: str, sync_mode: SyncMode) -> dict[str, Any]:
        """The survey's distributions whose history can still change (all of them on a first sync)."""
        params: dict[str, Any] = {"surveyId": survey_id}
        since: DateTime | None = None
        if sync_mode == SyncMode.incremental:
            read_at = parse_instant(self._read_at.get(survey_id))
            since = read_at - self.lookback if read_at is not None else None
        start_date = self._config.start_date if self._config is not None else None
        if start_date is not None and (since is None or start_date > since):
            since = start_date
        if since is not None:
            params["sendStartDate"] = api_format(since)
        return params

    def skip_error(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        if (error.status == 400 and error.error_code == NO_HISTORY_CODE) or error.status == 404:
            logger.warning(
                "distribution_history: distribution %s of survey %s has no readable history (%s); skipped.",
                stream_slice.get("distributionId"),
                stream_slice.get("surveyId"),
                error,
            )
            return True
        return False
