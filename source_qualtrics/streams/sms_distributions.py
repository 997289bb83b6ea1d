"""`sms_distributions`: a survey's SMS distributions, which Qualtrics lists apart from email ones.

`GET /distributions/sms?surveyId=` (survey id required, `nextPage` paging) returns distributions with
their own id prefix (`SMSD_`) and shape: a `name`, `recipients`, `message` (library message or text) and
`stats` with the SMS-only `credits` and `segments`; no email headers and no survey-link object. Hence a
stream of its own rather than a channel column on `distributions`: each table keeps typed columns that
all apply, and `distributions` keeps its schema.

Qualtrics documents no per-recipient history for SMS distributions (its SMS reference lists create,
list, get and delete; `/distributions/{id}/history` is the email one), so an SMS distribution's `stats`
are its history. They keep moving while recipients answer, so each incremental sync emits, per
survey, the SMS distributions sent within the same look-back as email history
(`distribution_history_lookback_days`, default 70) before the survey's previous sync, and the state
keeps, per survey, when that sync started (`readAt`), as `distribution_history` does. No send-date
filter is documented for this list, so the look-back is applied to the listed records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_qualtrics.dates import DateTime, Duration, api_format, parse_instant
from source_qualtrics.streams.distributions import DISTRIBUTION_SCOPE, Distributions
from source_qualtrics.streams.partitioned_state import SurveyStamps

SMS_PERMISSION = "the 'Distribute Surveys' permission and Qualtrics' SMS add-on"


class SmsDistributions(Distributions):
    path = "distributions/sms"
    permission = SMS_PERMISSION
    scope = DISTRIBUTION_SCOPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors = SurveyStamps("readAt")

    @property
    def name(self) -> str:
        return "sms_distributions"

    def request_params(self, stream_slice: Mapping[str, Any], sync_mode: SyncMode) -> dict[str, Any]:
        return {"surveyId": stream_slice["surveyId"]}

    def survey_distributions(
        self, survey_id: str, records: Iterable[Mapping[str, Any]], sync_mode: SyncMode
    ) -> Iterator[Mapping[str, Any]]:
        since = self.since(survey_id, sync_mode)
        for record in super().survey_distributions(survey_id, records, sync_mode):
            sent = parse_instant(record.get(self.cursor_field))
            if since is None or sent is None or sent >= since:
                yield record
        if sync_mode == SyncMode.incremental:
            self._cursors[survey_id] = api_format(self._sync.started_at)

    def since(self, survey_id: str, sync_mode: SyncMode) -> DateTime | None:
        """The oldest send date still emitted: the look-back before the previous sync, else the start date."""
        stored = parse_instant(self._cursors.get(survey_id)) if sync_mode == SyncMode.incremental else None
        if stored is not None:
            return stored - Duration(days=self._config.distribution_history_lookback_days)
        return self._config.start_date
