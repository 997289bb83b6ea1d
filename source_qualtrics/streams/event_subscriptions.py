"""`event_subscriptions`: the brand's webhooks (`GET /eventsubscriptions`)."""

from __future__ import annotations

from source_qualtrics.streams.base import QualtricsListStream


class EventSubscriptions(QualtricsListStream):
    primary_key = "id"
    path = "eventsubscriptions"
    permission = "the Brand Administrator role (event subscriptions are brand-level)"
    scope = "read:subscriptions"

    @property
    def name(self) -> str:
        return "event_subscriptions"
