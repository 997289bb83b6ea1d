"""Survey versions: `GET /survey-definitions/{surveyId}/versions`.

Shaped like the official Survey Definitions spec's `SurveyVersionMetadata` (description, surveyID,
versionID, versionNumber, userID, creationDate, published, wasPublished, publishEvents), listed under
`result.elements` with no paging. Every simulated survey has two versions: the first, published when
the survey was created and since superseded, and the current one, published at its last change.
"""

from __future__ import annotations

from typing import Any

from .data import SurveyInfo, iso_seconds
from .ids import digest
from .routing import Request, Route

HOUR_MS = 3_600_000


def versions(info: SurveyInfo) -> list[dict[str, Any]]:
    created = [info.creation_ms + HOUR_MS, info.modified_ms]
    return [
        {
            "description": "First published version" if number == 1 else "Current version",
            "surveyID": info.id,
            "versionID": str(
                9_223_370_000_000_000_000 + int.from_bytes(digest("version", info.id, number)[:4], "big")
            ),
            "versionNumber": number,
            "userID": info.owner_id,
            "creationDate": iso_seconds(ms),
            "published": number == len(created),
            "wasPublished": True,
            "publishEvents": [{"date": iso_seconds(ms + 5000), "userID": info.owner_id}],
        }
        for number, ms in enumerate(created, start=1)
    ]


def list_survey_versions(request: Request) -> dict[str, Any]:
    return {"elements": versions(request.sim.store.survey(request.params["surveyId"]))}


ROUTES = (Route("GET", "/survey-definitions/{surveyId}/versions", list_survey_versions),)
