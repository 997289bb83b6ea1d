"""The API error type and the status strings Qualtrics puts in `meta.httpStatus`."""

from __future__ import annotations

STATUS_TEXT = {
    200: "200 - OK",
    400: "400 - Bad Request",
    401: "401 - Unauthorized",
    403: "403 - Forbidden",
    404: "404 - Not Found",
    405: "405 - Method Not Allowed",
    429: "429 - Too Many Requests",
    500: "500 - Internal Server Error",
    503: "503 - Temporary Internal Server Error",
    504: "504 - Gateway Timeout",
}

# Codes seen in real traffic: ATP_2 (no auth header), DCD_7 (bad token), GSI_2 (survey not found).
# The others are simulator-specific; connectors should key off the HTTP status, not these codes.
BAD_PARAMETER = "RCE_1"
BAD_CONTINUATION_TOKEN = "RCE_CT_1"
NOT_FOUND = "NF_1"
EXPORT_NOT_FOUND = "RCE_4"
RATE_LIMITED = "RL_1"
INTERNAL = "SRV_1"
FORBIDDEN = "AUTH_403"


class ApiError(Exception):
    """An error answered with the Qualtrics error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, object]:
        error: dict[str, object] = {"errorCode": self.code, "errorMessage": self.message}
        if self.status >= 500:
            error["instanceId"] = "sim-" + request_id[:8]
        return {"meta": {"httpStatus": STATUS_TEXT[self.status], "error": error, "requestId": request_id}}


def bad_request(message: str, code: str = BAD_PARAMETER) -> ApiError:
    return ApiError(400, code, message)


def survey_not_found() -> ApiError:
    return ApiError(404, "GSI_2", "Survey not found.")


def forbidden() -> ApiError:
    """403 for a token whose user lacks the permission (the code is simulator-specific)."""
    return ApiError(403, FORBIDDEN, "You do not have permission to access this resource.")
