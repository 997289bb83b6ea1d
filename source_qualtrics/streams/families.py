"""The account, XM Directory, distribution, webhook and deleted-response streams, built in one place."""

from __future__ import annotations

import time
from collections.abc import Callable

from airbyte_cdk.sources.streams import Stream

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
from source_qualtrics.sync import SyncContext


def directory_streams(
    sync: SyncContext,
    *,
    timing: ExportTiming | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Stream]:
    return [
        Users(sync),
        Groups(sync),
        Directories(sync),
        DirectoryContacts(sync),
        MailingLists(sync),
        MailingListContacts(sync),
        Distributions(sync),
        DistributionHistory(sync),
        EventSubscriptions(sync),
        ResponseIds(sync, timing=timing, sleep=sleep),
    ]
