"""Small builders for Qualtrics payloads, shaped like real recorded Qualtrics traffic."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

BASE_URL = "https://fra1.qualtrics.com/API/v3"
TOKEN = "unit-test-token-5f2a"


def config(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "datacenter": "fra1",
        "credentials": {"auth_type": "api_token", "api_token": TOKEN},
    }
    value.update(overrides)
    return value


def envelope(result: Any, *, notice: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"httpStatus": "200 - OK", "requestId": str(uuid.uuid4())}
    if notice:
        meta["notice"] = notice
    return {"result": result, "meta": meta}


def error_body(status: str, code: str, message: str) -> dict[str, Any]:
    return {
        "meta": {
            "httpStatus": status,
            "requestId": str(uuid.uuid4()),
            "error": {"errorCode": code, "errorMessage": message},
        }
    }


def survey(
    survey_id: str, last_modified: str = "2024-02-20T01:19:11Z", name: str = "Survey"
) -> dict[str, Any]:
    return {
        "id": survey_id,
        "name": name,
        "ownerId": "UR_8wfG5qsMxuh0Jrn",
        "lastModified": last_modified,
        "creationDate": "2020-02-20T00:35:40Z",
        "isActive": True,
    }


def response(response_id: str, recorded: str = "2024-03-25T17:21:25.942Z", **values: Any) -> dict[str, Any]:
    base = {
        "startDate": "2024-03-25T17:16:56Z",
        "endDate": "2024-03-25T17:21:25Z",
        "status": 0,
        "ipAddress": "165.225.48.92",
        "progress": 100,
        "duration": 269,
        "finished": 1,
        "recordedDate": recorded,
        "_recordId": response_id,
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
        "QID1": 2,
        "QID2": ["1", "3"],
    }
    base.update(values)
    return {
        "responseId": response_id,
        "values": base,
        "labels": {"status": "IP Address", "finished": "True", "QID1": "No"},
        "displayedFields": ["QID1", "QID2"],
        "displayedValues": {"QID1": [1, 2], "QID2": ["1", "2", "3"]},
    }


def ndjson(records: list[dict[str, Any]], *, noise: bool = True) -> bytes:
    """NDJSON as Qualtrics writes it, with the blank and `{}` lines real exports contain."""
    lines = []
    for index, record in enumerate(records):
        lines.append(json.dumps(record))
        if noise and index % 2 == 0:
            lines.append("")
            lines.append("{}")
    return ("\n".join(lines) + "\n").encode()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class FakeExportApi:
    """Registers one survey's export flow on requests-mock: start, N inProgress polls, complete, file."""

    def __init__(
        self,
        mocker: Any,
        survey_id: str,
        file_bytes: bytes,
        *,
        polls: int = 2,
        token: str | None = None,
        responses: int = 10,
    ):
        self.survey_id = survey_id
        counts = {"auditable": responses, "generated": 0, "deleted": 0}
        self.details = mocker.get(
            f"{BASE_URL}/surveys/{survey_id}",
            json=envelope(
                {"id": survey_id, "creationDate": "2020-02-20T00:35:40Z", "responseCounts": counts}
            ),
        )
        progress_id = f"ES_{survey_id[3:]}"
        file_id = f"{uuid.uuid4()}-def"
        url = f"{BASE_URL}/surveys/{survey_id}/export-responses"
        self.start = mocker.post(
            url, json=envelope({"progressId": progress_id, "percentComplete": 0.0, "status": "inProgress"})
        )
        complete: dict[str, Any] = {"fileId": file_id, "percentComplete": 100.0, "status": "complete"}
        if token:
            complete["continuationToken"] = token
        in_progress = [
            {"json": envelope({"percentComplete": 100.0 * i / (polls + 1), "status": "inProgress"})}
            for i in range(polls)
        ]
        self.progress_url, self.file_url, self.complete = (
            f"{url}/{progress_id}",
            f"{url}/{file_id}/file",
            complete,
        )
        self.progress = mocker.get(self.progress_url, in_progress + [{"json": envelope(complete)}])
        self.file = mocker.get(self.file_url, content=file_bytes, headers={"Content-Type": "application/zip"})

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.start.request_history]
