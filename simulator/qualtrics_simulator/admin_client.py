"""A tiny urllib client for the admin API, for demos and tests that run the simulator in another process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class AdminError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"admin API {status}: {message}")
        self.status = status


class AdminClient:
    def __init__(self, admin_url: str, timeout: float = 30.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.admin_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode("utf-8", "replace")) from None

    def survey_ids(self) -> list[str]:
        return list(self._call("GET", "/surveys")["surveyIds"])

    def response_ids(self, survey_id: str) -> list[str]:
        return list(self._call("GET", f"/surveys/{survey_id}/response-ids")["responseIds"])

    def all_response_ids(self) -> dict[str, list[str]]:
        """Ids of every existing completed response, by survey, in one call."""
        return {sid: list(ids) for sid, ids in self._call("GET", "/response-ids")["surveys"].items()}

    def add_responses(self, survey_id: str, count: int) -> list[str]:
        return list(self._call("POST", f"/surveys/{survey_id}/responses", {"count": count})["responseIds"])

    def edit_responses(self, survey_id: str, ids_or_count: list[str] | int) -> list[str]:
        body: dict[str, Any] = (
            {"count": ids_or_count} if isinstance(ids_or_count, int) else {"responseIds": list(ids_or_count)}
        )
        return list(self._call("POST", f"/surveys/{survey_id}/responses/edit", body)["responseIds"])

    def delete_responses(self, survey_id: str, ids: list[str]) -> list[str]:
        body = {"responseIds": list(ids)}
        return list(self._call("POST", f"/surveys/{survey_id}/responses/delete", body)["responseIds"])

    def touch_surveys(
        self,
        *,
        fraction: float | None = None,
        survey_ids: list[str] | None = None,
        add: int = 1,
        edit: int = 0,
    ) -> dict[str, dict[str, list[str]]]:
        """Add `add` and edit `edit` responses in each of `survey_ids`, or of `fraction` of all surveys.

        Returns {survey id: {"added": [response ids], "edited": [response ids]}}.
        """
        body: dict[str, Any] = {"add": add, "edit": edit}
        if fraction is not None:
            body["fraction"] = fraction
        if survey_ids is not None:
            body["surveyIds"] = list(survey_ids)
        return dict(self._call("POST", "/surveys/touch", body)["surveys"])

    def add_survey(self, name: str | None = None, responses: int = 0) -> str:
        body: dict[str, Any] = {"responses": responses}
        if name is not None:
            body["name"] = name
        return str(self._call("POST", "/surveys", body)["surveyId"])

    def delete_survey(self, survey_id: str) -> None:
        self._call("DELETE", f"/surveys/{survey_id}")

    # --- distributions, opens and transactions added at runtime (directory_changes.py) ---

    def add_distribution(self, survey_id: str) -> str:
        return str(self._call("POST", f"/surveys/{survey_id}/distributions", {})["distributionId"])

    def open_email(self, distribution_id: str, contact_id: str | None = None) -> str:
        body = {"contactId": contact_id} if contact_id else {}
        return str(self._call("POST", f"/distributions/{distribution_id}/opens", body)["contactId"])

    def add_transactions(
        self, directory_id: str, contact_ids: list[str] | None = None, count: int = 1
    ) -> list[str]:
        body: dict[str, Any] = {"count": count, **({"contactIds": contact_ids} if contact_ids else {})}
        return list(self._call("POST", f"/directories/{directory_id}/transactions", body)["transactionIds"])

    def request_counts(self) -> dict[str, int]:
        return dict(self._call("GET", "/requests"))

    def reset_counts(self) -> None:
        self._call("POST", "/reset-counts", {})

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "/faults"))

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/faults", knobs))
