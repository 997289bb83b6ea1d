"""SourceQualtrics: wires config, client and streams into the Airbyte protocol."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from importlib import resources
from typing import Any, TypeVar

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    ConnectorSpecificationSerializer,
    Status,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream

from source_qualtrics.auth import ApiTokenAuth, Authenticator, OAuthClientCredentials
from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import OAuthClient, QualtricsConfig, parse_config
from source_qualtrics.errors import ConfigError, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export import ExportTiming
from source_qualtrics.record_lines import DirectRecords
from source_qualtrics.streams.export_stream import SurveyExportStream
from source_qualtrics.streams.families import directory_streams, survey_structure_streams
from source_qualtrics.streams.in_progress_responses import InProgressResponses
from source_qualtrics.streams.per_survey import per_survey_streams
from source_qualtrics.streams.question_answers import QuestionAnswers, share_one_pass
from source_qualtrics.streams.response_state import ResponsesState
from source_qualtrics.streams.responses import Responses
from source_qualtrics.streams.surveys import Surveys

PROXY_NOTICE_MARKER = "use this host instead:"


class SourceQualtrics(AbstractSource):
    # The CDK's own spec validation words its errors for developers (a regex, a schema path);
    # `parse_config` checks the same spec and says what to change, so it alone validates.
    check_config_against_spec = False

    def __init__(
        self, *, sleep: Callable[[float], None] = time.sleep, export_timing: ExportTiming | None = None
    ):
        """`sleep` and `export_timing` exist so tests can run retries and polling without waiting."""
        self._sleep = sleep
        self._export_timing = export_timing
        self._one_pass_for_answers = False
        # Set by `run.launch_read` for the length of a read: where export-fed streams write records.
        self.direct_records: DirectRecords | None = None

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        """Serve the repository's spec.json, which the package carries as `source_qualtrics/spec.json`."""
        text = resources.files("source_qualtrics").joinpath("spec.json").read_text(encoding="utf-8")
        return ConnectorSpecificationSerializer.load(json.loads(text))

    # -- input files: a damaged file is the user's (or the platform's) to fix, so say which and why ---

    @classmethod
    def read_config(cls, config_path: str) -> MutableMapping[str, Any]:
        return _read_input("config", lambda: AbstractSource.read_config(config_path))

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return _read_input("catalog", lambda: AbstractSource.read_catalog.__func__(cls, catalog_path))  # type: ignore[attr-defined]

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        return _read_input("state", lambda: AbstractSource.read_state.__func__(cls, state_path))  # type: ignore[attr-defined]

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Prove the credential with `GET /whoami`; every failure is one line a person can act on."""
        try:
            ok, message = self.check_connection(logger, config)
        except ConfigError as error:
            ok, message = False, error.message
        if ok:
            return AirbyteConnectionStatus(status=Status.SUCCEEDED, message=message)
        logger.error("Check failed: %s", message)
        return AirbyteConnectionStatus(status=Status.FAILED, message=message)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        parsed = parse_config(config)
        client = self.make_client(parsed)
        try:
            envelope = client.get_json("whoami")
        except QualtricsApiError as error:
            return False, describe_check_error(parsed, error)
        except QualtricsConnectionError as error:
            return False, f"{error}. Check the Datacenter setting ({parsed.host})."
        notice = (envelope.get("meta") or {}).get("notice")
        if isinstance(notice, str) and PROXY_NOTICE_MARKER in notice:
            suggested = notice.split(PROXY_NOTICE_MARKER, 1)[1].strip().rstrip(".")
            return False, (
                f"Your Qualtrics account lives on another datacenter: set Datacenter to '{suggested}' "
                f"instead of '{parsed.host}' (Qualtrics proxied the request and said: {notice})."
            )
        if parsed.survey_ids:
            try:
                known = {element.get("id") for element in client.paginate("surveys")}
            except QualtricsApiError as error:
                return False, f"The survey list could not be read to confirm Survey IDs: {error}"
            missing = [survey_id for survey_id in parsed.survey_ids if survey_id not in known]
            if missing:
                return False, (
                    f"These survey ids are not visible to the token's user on {parsed.host}: "
                    f"{', '.join(missing)}. Check the ids, or share the surveys with that user."
                )
        who = envelope.get("result") or {}
        message = (
            f"Connected to {parsed.host} as {who.get('userName') or who.get('userId') or 'unknown user'}"
            f" (brand {who.get('brandId') or 'unknown'})."
        )
        logger.info(message)
        return True, message

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """Note which streams are selected, so `responses` can serve `question_answers` in one pass."""
        parse_config(config)  # a user's mistake stops the sync here, as one line, before any stream starts
        check_saved_state(catalog, state)
        self._one_pass_for_answers = can_share_one_pass(catalog, state)
        yield from super().read(logger, config, catalog, state)

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        parsed = parse_config(config)
        client = self.make_client(parsed)
        export_args: dict[str, Any] = {"timing": self._export_timing, "sleep": self._sleep}
        responses = Responses(client, parsed, **export_args)
        answers = QuestionAnswers(client, parsed, **export_args)
        if self._one_pass_for_answers:
            share_one_pass(responses, answers)
        streams: list[Stream] = [
            Surveys(client, parsed.survey_ids),
            responses,
            answers,
            *survey_structure_streams(client, parsed),
            InProgressResponses(client, parsed, timing=self._export_timing, sleep=self._sleep),
            *directory_streams(client, parsed, timing=self._export_timing, sleep=self._sleep),
            *(per_survey_streams(client, parsed, **export_args) if parsed.per_survey_streams else []),
        ]
        for stream in streams:
            if isinstance(stream, SurveyExportStream):
                stream.direct_records = self.direct_records
        return streams

    def make_client(self, config: QualtricsConfig) -> QualtricsClient:
        credentials = config.credentials
        auth: Authenticator = (
            OAuthClientCredentials(
                config.token_url, credentials.client_id, credentials.client_secret, credentials.scopes
            )
            if isinstance(credentials, OAuthClient)
            else ApiTokenAuth(credentials.token)
        )
        return QualtricsClient(
            config.base_url,
            auth,
            sleep=self._sleep,
            requests_per_minute=config.requests_per_minute,
        )


def check_saved_state(catalog: ConfiguredAirbyteCatalog, state: list[AirbyteStateMessage] | None) -> None:
    """A damaged per-survey state is reported once, up front, rather than as a failure mid-sync."""
    manager = ConnectorStateManager(state=state)
    for entry in catalog.streams:
        name = entry.stream.name
        if name in ("responses", "question_answers") or name.startswith("responses_"):
            ResponsesState().load(manager.get_stream_state(name, None), stream=name)


def can_share_one_pass(catalog: ConfiguredAirbyteCatalog, state: list[AirbyteStateMessage] | None) -> bool:
    """`responses` can build `question_answers` from its own exports when both are selected in the same
    sync mode and both stand at the same cursors (always true once they have synced together)."""
    modes = {entry.stream.name: entry.sync_mode for entry in catalog.streams}
    if "responses" not in modes or modes.get("question_answers") != modes["responses"]:
        return False
    manager = ConnectorStateManager(state=state)
    return manager.get_stream_state("responses", None) == manager.get_stream_state("question_answers", None)


T = TypeVar("T")


def _read_input(kind: str, load: Callable[[], T]) -> T:
    try:
        return load()
    except ConfigError:
        raise
    except Exception as error:  # json, shape or type errors from the CDK's loaders
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise ConfigError(f"The {kind} file could not be read as a valid Airbyte {kind}: {reason}") from None


def describe_check_error(config: QualtricsConfig, error: QualtricsApiError) -> str:
    if error.status == 401 and isinstance(config.credentials, OAuthClient):
        return (
            f"Qualtrics rejected the OAuth access token on {config.host} ({error.error_code or 'HTTP 401'}). "
            "An OAuth token only works on the datacenter where its client was created: check the "
            "Datacenter setting, and that the client is still active."
        )
    if error.status == 401:
        return (
            f"Qualtrics rejected the API token ({error.error_code or 'HTTP 401'}). A deactivated or rotated "
            "token stops working at once: paste the current token from Account Settings > Qualtrics IDs "
            "into this connection (sync state is kept)."
        )
    if error.status == 400 and error.error_code == "ATP_2":
        return "Qualtrics received no credentials: paste your API token into the connection."
    if error.status == 403:
        return f"The token's user may not call the API on {config.host}: {error}"
    return f"Qualtrics answered {error} when checking the connection to {config.host}."
