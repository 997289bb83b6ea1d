"""The simulated brand: state, ground truth and mutations, with no knowledge of HTTP.

Route handlers and the admin API work on a `Tenant`; `simulator.Simulator` adds `serve()` on top, so the
import graph stays one-way (server -> routes -> tenant -> store/exports/data).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .auth import Authenticator
from .config import SimulatorConfig
from .directory import Directory, directory_of
from .distance import Distance
from .exports import ExportManager
from .faults import Faults
from .sms import SmsDistributions, sms_of
from .stats import RequestStats
from .store import ResponseIds, Store


class Tenant:
    """Deterministic Qualtrics tenant. Data is a function of the config; mutations are ground truth."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        base = config or SimulatorConfig()
        self.config = dataclasses.replace(  # runtime knob changes must not leak into the caller's config
            base,
            rate_limit_rpm=dict(base.rate_limit_rpm),
            export_seconds_by_survey=dict(base.export_seconds_by_survey),
            forbidden_paths=list(base.forbidden_paths),
            export_forbidden_surveys=list(base.export_forbidden_surveys),
            export_missing_surveys=list(base.export_missing_surveys),
            drop_responses=dict(base.drop_responses),
        )
        self.store = Store(self.config)
        self.faults = Faults(self.config)
        self.stats = RequestStats()
        self.distance = Distance(self.config)
        self.auth = Authenticator(self.config)
        self.exports = ExportManager(self.store, self.faults, self.config)

    @property
    def directory(self) -> Directory:
        """Users, groups, XM Directory and distributions, built on first use."""
        return directory_of(self.store)

    @property
    def sms_distributions(self) -> SmsDistributions:
        """SMS distributions (listed apart from email ones), built on first use."""
        return sms_of(self.store, self.directory)

    # --- ground truth and mutations --------------------------------------------------------------------

    def survey_ids(self) -> list[str]:
        return [info.id for info in self.store.surveys()]

    def response_ids(self, survey_id: str) -> ResponseIds:
        return self.store.response_ids(survey_id)

    def add_responses(self, survey_id: str, count: int) -> list[str]:
        return self.store.add_responses(survey_id, count)

    def edit_responses(self, survey_id: str, ids_or_count: list[str] | int) -> list[str]:
        if isinstance(ids_or_count, int):
            return self.store.edit_responses(survey_id, count=ids_or_count)
        return self.store.edit_responses(survey_id, response_ids=list(ids_or_count))

    def delete_responses(self, survey_id: str, ids: list[str]) -> list[str]:
        return self.store.delete_responses(survey_id, list(ids))

    def touch_surveys(
        self,
        survey_ids: list[str] | None = None,
        fraction: float | None = None,
        add: int = 1,
        edit: int = 0,
    ) -> dict[str, dict[str, list[str]]]:
        """New and edited responses in many surveys at once: {survey id: {"added": ids, "edited": ids}}."""
        return self.store.touch_surveys(survey_ids, fraction, add, edit)

    def add_survey(self, name: str | None = None, responses: int = 0) -> str:
        return self.store.add_survey(name=name, responses=responses)

    def delete_survey(self, survey_id: str) -> None:
        self.store.delete_survey(survey_id)

    def request_counts(self) -> dict[str, int]:
        """Requests by kind and status, and `in_flight_max`: the most API requests seen at once."""
        return {**self.stats.snapshot(), "in_flight_max": self.distance.max_in_flight_seen}

    def reset_counts(self) -> None:
        self.stats.reset()
        self.distance.reset()

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return self.faults.update(knobs)

    def close(self) -> None:
        self.exports.close()
