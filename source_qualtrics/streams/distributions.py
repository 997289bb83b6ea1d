"""`distributions` (per survey, incremental on `sendDate`) and `distribution_history` (per distribution).

`GET /distributions` requires `surveyId` and filters server-side on the send date (`sendStartDate`,
inclusive). A distribution's `stats` keep changing for weeks after it is sent (opens, starts, finishes),
so an incremental sync re-reads the distributions sent in the last `STATS_LOOKBACK` before its cursor;
the primary key `id` dedupes them. The cursor never moves past the time of the sync, so a distribution
scheduled for the future cannot hide the ones sent before it.

`distribution_history` lists, per recipient, what happened to one distribution: sent, opened, started,
finished, with the `responseId` that links a contact to their response. Test distributions
(`requestType: "TestEmail"`) have no history (Qualtrics answers 400 `CP_TD_GER_NP`) and are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import IncrementalMixin

from source_qualtrics.dates import DateTime, Duration, api_format, now, parse_instant
from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import QualtricsListStream
from source_qualtrics.streams.partitioned_state import dump_partitions, load_partitions

logger = logging.getLogger("airbyte")

STATS_LOOKBACK = Duration(days=14)
TEST_DISTRIBUTION = "TestEmail"
NO_HISTORY_CODE = "CP_TD_GER_NP"
DISTRIBUTION_PERMISSION = "the 'Distribute Surveys' (email distributions) permission on the survey"
DISTRIBUTION_SCOPE = "read:distributions"


class _PerSurvey(QualtricsListStream):
    def survey_slices(self) -> Iterable[dict[str, Any]]:
        for survey_id in self._sync.survey_ids():
            yield {"surveyId": survey_id}


class Distributions(_PerSurvey, IncrementalMixin):
    primary_key = "id"
    cursor_field = "sendDate"
    path = "distributions"
    parent_keys = ("surveyId",)
    permission = DISTRIBUTION_PERMISSION
    scope = DISTRIBUTION_SCOPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: dict[str, str] = {}
        self._now = now()

    @property
    def name(self) -> str:
        return "distributions"

    @property
    def source_defined_cursor(self) -> bool:
        return True

    @property
    def state(self) -> MutableMapping[str, Any]:
        return dump_partitions({survey_id: {self.cursor_field: c} for survey_id, c in self._cursors.items()})

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors = {
            survey_id: cursor[self.cursor_field]
            for survey_id, cursor in load_partitions(value, self.name).items()
            if isinstance(cursor.get(self.cursor_field), str)
            and parse_instant(cursor[self.cursor_field]) is not None
        }

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        yield from self.survey_slices()

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
        survey_id = (stream_slice or {}).get("surveyId")
        newest = parse_instant(self._cursors.get(survey_id)) if isinstance(survey_id, str) else None
        for record in super().read_records(sync_mode, cursor_field, stream_slice, stream_state):
            sent = parse_instant(record.get(self.cursor_field))
            if sent is not None and sent <= self._now and (newest is None or sent > newest):
                newest = sent
            yield record
        if sync_mode == SyncMode.incremental and isinstance(survey_id, str) and newest is not None:
            self._cursors[survey_id] = api_format(newest)


class DistributionHistory(_PerSurvey):
    primary_key = ["distributionId", "contactId"]
    path = "distributions/{distributionId}/history"
    parent_keys = ("surveyId", "distributionId")
    permission = DISTRIBUTION_PERMISSION
    scope = DISTRIBUTION_SCOPE

    @property
    def name(self) -> str:
        return "distribution_history"

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        for survey in self.survey_slices():
            params = {"surveyId": survey["surveyId"]}
            for element in self.paginate_parent("distributions", self.permission, self.scope, params):
                distribution_id = element.get("id")
                if not isinstance(distribution_id, str) or not distribution_id:
                    continue
                if element.get("requestType") == TEST_DISTRIBUTION:
                    logger.info("distribution_history: %s is a test email without history", distribution_id)
                    continue
                yield {**survey, "distributionId": distribution_id}

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
