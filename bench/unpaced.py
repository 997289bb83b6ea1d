"""The connector's CLI with its client's pacing off, for the enterprise-size figure (`bench/enterprise.py`).

Everything but the pace is the installed connector's: airbyte-cdk's `launch`, the same source and
streams. The time at the connector's real pace is computed from the requests the simulator counted.
"""

from __future__ import annotations

import sys

from airbyte_cdk.entrypoint import launch

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import ApiToken, QualtricsConfig
from source_qualtrics.pacing import RequestPacer
from source_qualtrics.source import SourceQualtrics


class UnpacedSource(SourceQualtrics):
    def make_client(self, config: QualtricsConfig) -> QualtricsClient:
        if not isinstance(config.credentials, ApiToken):  # the simulator's token
            return super().make_client(config)
        return QualtricsClient(
            config.base_url,
            config.credentials.token,
            pacer=RequestPacer(1e9, {}),
            max_concurrent_requests=config.max_concurrent_requests,
        )


if __name__ == "__main__":
    launch(UnpacedSource(), sys.argv[1:])
