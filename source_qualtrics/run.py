"""Console entry point: `source-qualtrics spec|check|discover|read`, through airbyte-cdk's `launch`.

A user's mistake (a config_error) is reported as one Airbyte trace line without a Python traceback;
anything else goes through the CDK's own handler, which keeps the stack trace for developers.
"""

from __future__ import annotations

import argparse
import sys

import orjson
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.config import parse_config
from source_qualtrics.errors import ConfigError
from source_qualtrics.source import SourceQualtrics


def main() -> None:
    """The `source-qualtrics` console script."""
    run()


def run(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else args
    try:
        if argv[:1] == ["check"] and (status := check_config_first(argv)) is not None:
            print(status, flush=True)
        else:
            launch(SourceQualtrics(), argv)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        emit_config_error(error)
        sys.exit(1)


def check_config_first(argv: list[str]) -> str | None:
    """A failed CONNECTION_STATUS line for a config the connector itself refuses, else None.

    The CDK's check validates the config against the spec before the connector sees it, and words its
    errors for developers (a regular expression, a schema path). The connector checks the same spec
    and says what to change, so its verdict goes first.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    known, _ = parser.parse_known_args(argv[1:])
    if not known.config:
        return None
    try:
        parse_config(SourceQualtrics.read_config(known.config))
    except ConfigError as error:
        status = AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        message = AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status)
        return filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode())
    return None


def emit_config_error(error: AirbyteTracedException) -> None:
    message = error.as_airbyte_message()
    if message.trace and message.trace.error:
        message.trace.error.stack_trace = None
    line = orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()
    print(filter_secrets(line), flush=True)
    print(f"Configuration error: {filter_secrets(str(error))}", file=sys.stderr)


if __name__ == "__main__":
    main()
