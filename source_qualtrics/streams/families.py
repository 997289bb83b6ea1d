"""The account, XM Directory, distribution, webhook and deleted-response streams, built in one place."""

from __future__ import annotations

import time
from collections.abc import Callable

from airbyte_cdk.sources.streams import Stream

from source_qualtrics.client import QualtricsClient
from source_qualtrics.config import QualtricsConfig
from source_qualtrics.export import ExportTiming
from source_qualtrics.streams.accounts import Groups, Users
from source_qualtrics.streams.deleted_responses import ResponseIds
from source_qualtrics.streams.directory import (
    Directories,
    DirectoryContacts,
    MailingListContacts,
    MailingLists,
)
from source_qualtrics.streams.distributions import DistributionHistory, Distributions
from source_qualtrics.streams.event_subscriptions import EventSubscriptions


def directory_streams(
    client: QualtricsClient,
    config: QualtricsConfig,
    *,
    timing: ExportTiming | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Stream]:
    return [
        Users(client, config),
        Groups(client, config),
        Directories(client, config),
        DirectoryContacts(client, config),
        MailingLists(client, config),
        MailingListContacts(client, config),
        Distributions(client, config),
        DistributionHistory(client, config),
        EventSubscriptions(client, config),
        ResponseIds(client, config, timing=timing, sleep=sleep),
    ]
