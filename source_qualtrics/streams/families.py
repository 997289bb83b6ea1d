"""The account, XM Directory, distribution, webhook, deleted-response and survey-structure streams."""

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
from source_qualtrics.streams.divisions import Divisions
from source_qualtrics.streams.event_subscriptions import EventSubscriptions
from source_qualtrics.streams.sms_distributions import SmsDistributions
from source_qualtrics.streams.survey_definitions import SurveyDefinitions
from source_qualtrics.streams.survey_questions import SurveyQuestions
from source_qualtrics.streams.survey_structure import structure_streams
from source_qualtrics.streams.survey_versions import SurveyVersions
from source_qualtrics.streams.transactions import (
    ContactTransactions,
    TransactionBatches,
    TransactionBatchMembers,
)
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
        Divisions(sync),
        Directories(sync),
        DirectoryContacts(sync),
        MailingLists(sync),
        MailingListContacts(sync),
        TransactionBatches(sync),
        TransactionBatchMembers(sync),
        ContactTransactions(sync),
        Distributions(sync),
        DistributionHistory(sync),
        SmsDistributions(sync),
        EventSubscriptions(sync),
        ResponseIds(sync, timing=timing, sleep=sleep),
    ]


def survey_structure_streams(sync: SyncContext, definitions: SurveyDefinitions) -> list[Stream]:
    """`survey_questions` and the streams cut from the same definitions share one reader per sync."""
    return [
        SurveyQuestions(definitions),
        *structure_streams(definitions),
        SurveyVersions(sync),
    ]
