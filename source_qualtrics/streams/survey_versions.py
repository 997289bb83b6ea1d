"""`survey_versions`: each survey's saved versions (`GET /survey-definitions/{surveyId}/versions`).

Full refresh: the list has no date filter, and an old version's `published` flag changes when a newer
one is published, so re-reading it is the only way to keep that flag right. One call per survey.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.streams.base import QualtricsListStream


class SurveyVersions(QualtricsListStream):
    primary_key = ["surveyId", "versionID"]
    path = "survey-definitions/{surveyId}/versions"
    parent_keys = ("surveyId",)
    permission = "view access to the survey definition (the survey shared with the token's user)"
    scope = "read:surveys"
    read_parents_ahead = True

    @property
    def name(self) -> str:
        return "survey_versions"

    def parent_slices(self) -> Iterable[Mapping[str, Any]]:
        for survey_id in self._sync.survey_ids():
            yield {"surveyId": survey_id}

    def skip_error(self, error: QualtricsApiError, stream_slice: Mapping[str, Any]) -> bool:
        return self.skip_vanished_parent(error, stream_slice)
