"""The public facade: a `Tenant` that can also serve itself over HTTP in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

from .server import ADMIN_PREFIX, API_PREFIX, SimulatorHTTPServer
from .tenant import Tenant


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


class Simulator(Tenant):
    """A deterministic Qualtrics tenant plus `serve()`; see `Tenant` for ground truth and mutations."""

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> ServerHandle:
        return ServerHandle(self, SimulatorHTTPServer((host, port), self))
