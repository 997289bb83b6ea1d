"""Exceptions that carry their Airbyte failure type, so every layer can raise meaningfully."""

from __future__ import annotations

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


class ConfigError(AirbyteTracedException):
    """A mistake the user can fix in the connection settings: reported as one line, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(internal_message=message, message=message, failure_type=FailureType.config_error)


class CredentialsRejected(ConfigError):
    """Qualtrics refused the credential itself (HTTP 401): nothing else can work until the user fixes it,
    so the client raises this instead of an API error and the sync stops at the first one."""

    @classmethod
    def for_credential(cls, host: str, *, oauth: bool, error_code: str | None) -> CredentialsRejected:
        code = error_code or "HTTP 401"
        if oauth:
            return cls(
                f"Qualtrics rejected the OAuth access token on {host} ({code}). An OAuth token only works "
                "on the datacenter where its client was created: check the Datacenter setting, and that "
                "the client is still active."
            )
        return cls(
            f"Qualtrics rejected the API token ({code}). A deactivated or rotated token stops working at "
            "once: paste the current token from Account Settings > Qualtrics IDs into this connection "
            "(sync state is kept)."
        )


class QualtricsApiError(Exception):
    """A non-retryable answer from Qualtrics, with what a person needs to report it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.request_id = request_id
        self.url = url
        self.api_message = message
        details = [f"HTTP {status}"]
        if error_code:
            details.append(f"code {error_code}")
        if request_id:
            details.append(f"requestId {request_id}")
        super().__init__(f"{message} ({', '.join(details)})")


class QualtricsConnectionError(Exception):
    """The host could not be reached at all (DNS, refused connection, TLS) after retries."""


class ExportFailed(Exception):
    """One survey's export could not be completed; the sync goes on with the other surveys."""

    def __init__(self, survey_id: str, reason: str, *, is_config_error: bool = False) -> None:
        self.survey_id = survey_id
        self.reason = reason
        self.is_config_error = is_config_error
        super().__init__(f"survey {survey_id}: {reason}")
