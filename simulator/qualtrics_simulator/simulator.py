"""The Simulator facade: builds state from a config and serves it over HTTP in a background thread."""

from __future__ import annotations

import dataclasses
import threading
from types import TracebackType
from typing import Any

from .auth import Authenticator
from .config import SimulatorConfig
from .exports import ExportManager
from .faults import Faults
from .server import ADMIN_PREFIX, API_PREFIX, SimulatorHTTPServer
from .stats import RequestStats
from .store import ResponseIds, Store


class ServerHandle:
    """A running server; a context manager that stops it and deletes export temp files on exit."""

    def __init__(self, sim: Simulator, httpd: SimulatorHTTPServer) -> None:
        self.sim = sim
        self.httpd = httpd
        self.root_url = httpd.root_url
        self.base_url = self.root_url + API_PREFIX
        self.admin_url = self.root_url + ADMIN_PREFIX
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="qualtrics-simulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
        self.sim.exports.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Simulator:
    """Deterministic Qualtrics tenant. Data is a function of the config; mutations are ground truth."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        base = config or SimulatorConfig()
        self.config = dataclasses.replace(base, rate_limit_rpm=dict(base.rate_limit_rpm))
        self.store = Store(self.config)
        self.faults = Faults(self.config)
        self.stats = RequestStats()
        self.auth = Authenticator(self.config)
        self.exports = ExportManager(self.store, self.faults, self.config)

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> ServerHandle:
        return ServerHandle(self, SimulatorHTTPServer((host, port), self))

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

    def add_survey(self, name: str | None = None, responses: int = 0) -> str:
        return self.store.add_survey(name=name, responses=responses)

    def delete_survey(self, survey_id: str) -> None:
        self.store.delete_survey(survey_id)

    def request_counts(self) -> dict[str, int]:
        return self.stats.snapshot()

    def reset_counts(self) -> None:
        self.stats.reset()

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return self.faults.update(knobs)

    def close(self) -> None:
        self.exports.close()
