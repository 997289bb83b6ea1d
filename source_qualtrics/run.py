"""Console entry point: `source-qualtrics spec|check|discover|read`.

A user's mistake (a config_error) is reported as one Airbyte trace line without a Python traceback;
anything else goes through the CDK's own handler, which keeps the stack trace for developers.
"""

from __future__ import annotations

import sys

import orjson
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_qualtrics.source import SourceQualtrics


def run(args: list[str] | None = None) -> None:
    try:
        launch(SourceQualtrics(), sys.argv[1:] if args is None else args)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        emit_config_error(error)
        sys.exit(1)


def emit_config_error(error: AirbyteTracedException) -> None:
    message = error.as_airbyte_message()
    if message.trace and message.trace.error:
        message.trace.error.stack_trace = None
    line = orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()
    print(filter_secrets(line), flush=True)
    print(f"Configuration error: {filter_secrets(str(error))}", file=sys.stderr)
