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
    TraceType,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.auth import ApiTokenAuth, Authenticator, OAuthClientCredentials
from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import OAuthClient, QualtricsConfig, parse_config
from source_qualtrics.errors import (
    ConfigError,
    CredentialsRejected,
    QualtricsApiError,
    QualtricsConnectionError,
)
from source_qualtrics.export import ExportTiming
from source_qualtrics.streams.base import QualtricsListStream
from source_qualtrics.streams.families import directory_streams, survey_structure_streams
from source_qualtrics.streams.in_progress_responses import InProgressResponses
from source_qualtrics.streams.partitioned_state import damaged_state, load_partitions
from source_qualtrics.streams.per_survey import per_survey_streams
from source_qualtrics.streams.question_answers import QuestionAnswers
from source_qualtrics.streams.response_counts import STREAM_NAME as COUNTS_STREAM
from source_qualtrics.streams.response_counts import SurveyResponseCounts
from source_qualtrics.streams.response_state import SurveyCursor, export_positions
from source_qualtrics.streams.responses import Responses
from source_qualtrics.streams.survey_definitions import SurveyDefinitions
from source_qualtrics.streams.surveys import Surveys
from source_qualtrics.sync import SyncContext, survey_list_forbidden

PROXY_NOTICE_MARKER = "use this host instead:"
DIRECTORY_PARTITIONED = ("contact_transactions",)
#: streams read from the start of the sync, behind the others (`start_read_ahead`): a long page
#: chain (`directory_contacts`) and the slowest budget (`distribution_history`)
READ_AHEAD = ("distribution_history", "directory_contacts")


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
        self._sync: SyncContext | None = None  # the current sync's shared context, made by `streams`
        self._selected: ConfiguredAirbyteCatalog | None = None
        self._state_in: list[AirbyteStateMessage] | None = None

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
                if error.status == 403:
                    return False, survey_list_forbidden(parsed.host, error).message or ""
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
        """The CDK's read, stopped at the first rejected credential with exactly one error.

        A deactivated or rotated token makes every later call fail too: the sync stops there (the
        CDK's `stop_sync_on_stream_failure`), the stream's own error trace and the CDK's summary are
        replaced by the one line `check` gives, and no traceback is logged for it.
        """
        parse_config(config)  # a user's mistake stops the sync here, as one line, before any stream starts
        check_saved_state(catalog, state)
        catalog = reading_order(catalog)
        self._selected, self._state_in = catalog, state
        quiet = HideTraceback(CredentialsRejected)
        logger.addFilter(quiet)
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type == Type.TRACE and self.rejected is not None and is_error_trace(message):
                    continue  # replaced by the single error raised below
                yield message
        except AirbyteTracedException:
            if self.rejected is None:
                raise
        finally:
            logger.removeFilter(quiet)
            if self._sync is not None:
                self._sync.close()
        if self.rejected is not None:
            raise self.rejected

    @property
    def rejected(self) -> CredentialsRejected | None:
        """The credential failure that ended this sync, if Qualtrics refused the credential."""
        return self._sync.client.rejected if self._sync is not None else None

    @property
    def stop_sync_on_stream_failure(self) -> bool:
        """Only a rejected credential stops the sync: every other stream would fail the same way."""
        return self.rejected is not None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        parsed = parse_config(config)
        sync = self._sync = SyncContext(self.make_client(parsed), parsed)
        sync.exports.readers = shared_export_readers(self._selected, self._state_in)
        export_args: dict[str, Any] = {"timing": self._export_timing, "sleep": self._sleep}
        definitions = SurveyDefinitions(sync)  # one read of a survey's definition per sync, for every stream
        streams: list[Stream] = [
            Surveys(sync),
            Responses(sync, **export_args),
            SurveyResponseCounts(sync),
            QuestionAnswers(sync, definitions, **export_args),
            *survey_structure_streams(sync, definitions),
            InProgressResponses(sync, **export_args),
            *directory_streams(sync, **export_args),
            *(per_survey_streams(sync, **export_args) if parsed.per_survey_streams else []),
        ]
        self.start_read_ahead(streams)
        return streams

    def start_read_ahead(self, streams: list[Stream]) -> None:
        """Start the read-ahead of the selected `READ_AHEAD` streams, in the mode and from the state
        the CDK will read them with."""
        selected = (
            {entry.stream.name: entry.sync_mode for entry in self._selected.streams} if self._selected else {}
        )
        manager = ConnectorStateManager(state=self._state_in)
        for stream in streams:
            if (
                isinstance(stream, QualtricsListStream)
                and stream.name in READ_AHEAD
                and stream.name in selected
            ):
                stream.start_read_ahead(
                    selected[stream.name], manager.get_stream_state(stream.name, None) or {}
                )

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
            max_concurrent_requests=config.max_concurrent_requests,
        )


def check_saved_state(catalog: ConfiguredAirbyteCatalog, state: list[AirbyteStateMessage] | None) -> None:
    """A damaged per-survey state is reported once, up front, rather than as a failure mid-sync."""
    manager = ConnectorStateManager(state=state)
    for entry in catalog.streams:
        name = entry.stream.name
        value = manager.get_stream_state(name, None)
        if name in DIRECTORY_PARTITIONED:
            continue  # partitioned by directory; the stream checks its own state
        if value and "states" in value:  # a per-survey state: one policy for all of them
            cursors = load_partitions(value, name)
            if name in ("responses", "question_answers") or name.startswith("responses_"):
                try:
                    for cursor in cursors.values():
                        SurveyCursor.from_json(cursor)
                except ValueError as error:
                    raise damaged_state(name, str(error)) from None


def reading_order(catalog: ConfiguredAirbyteCatalog) -> ConfiguredAirbyteCatalog:
    """The same catalog in the order the CDK reads it (catalog order): the streams read ahead
    (`READ_AHEAD`) after the others, so their reads overlap every other stream's, and
    `survey_response_counts` last: it reports what this sync's exports emitted, and the counts read
    after them."""
    streams = sorted(
        catalog.streams,
        key=lambda entry: (entry.stream.name == COUNTS_STREAM, entry.stream.name in READ_AHEAD),
    )
    return ConfiguredAirbyteCatalog(streams=streams)


def shared_export_readers(
    catalog: ConfiguredAirbyteCatalog | None, state: list[AirbyteStateMessage] | None
) -> int:
    """How many streams read each export file: 2 when `responses` and `question_answers` are selected
    in the same sync mode at the same cursors (they then ask for the very same exports), else 1."""
    if catalog is None:
        return 1
    modes = {entry.stream.name: entry.sync_mode for entry in catalog.streams}
    if "responses" not in modes or modes.get("question_answers") != modes["responses"]:
        return 1
    manager = ConnectorStateManager(state=state)
    positions = [
        export_positions(manager.get_stream_state(name, None)) for name in ("responses", "question_answers")
    ]
    return 2 if positions[0] == positions[1] else 1


def is_error_trace(message: AirbyteMessage) -> bool:
    return message.type == Type.TRACE and message.trace is not None and message.trace.type == TraceType.ERROR


class HideTraceback(logging.Filter):
    """Drops the traceback from log records about an exception that is the user's to fix."""

    def __init__(self, kind: type[BaseException]) -> None:
        super().__init__()
        self._kind = kind

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self._kind):
            record.exc_info, record.exc_text = None, None
        return True


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
    if error.status == 400 and error.error_code == "ATP_2":
        return "Qualtrics received no credentials: paste your API token into the connection."
    if error.status == 403:
        return f"The token's user may not call the API on {config.host}: {error}"
    return f"Qualtrics answered {error} when checking the connection to {config.host}."
