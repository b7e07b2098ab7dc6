"""graphsync as an emulator inside your own test suite.

    from graphsync.testing import EmulatorServer

    with EmulatorServer() as server:              # in-memory store, free port, tenant factory on
        tenant = server.new_tenant()              # fresh, empty, isolated; all permissions
        base_url = f"{server.url}/v1.0"           # point the Graph SDK here
        token = tenant["accessToken"]

Each test can take its own tenant; tenants never see each other's data.
"""
from __future__ import annotations

import socket
import threading
import time

import uvicorn

from graphsync.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorServer:
    """A real graphsync HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings | None = None, clock=None):
        from graphsync.api.app import create_app

        self.settings = settings or Settings(database_url="memory", emulator=True, port=free_port())
        self.app = create_app(self.settings, clock=clock)
        self.runtime = self.app.state.runtime
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.port, log_level="warning",
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="graphsync-emulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self, timeout: float = 30) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the graphsync emulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.runtime.close()

    def new_tenant(self, display_name: str = "test") -> dict:
        """A fresh tenant with an all-permissions client: tenantId, clientId, clientSecret, accessToken."""
        return self.runtime.new_tenant_with_admin(display_name)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
