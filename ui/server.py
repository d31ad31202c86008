"""``DashboardServer``: the dashboard served by uvicorn in a background thread.

``sf up`` starts one next to the embedded control plane (same process, the
control plane keeps the main thread and the signals); ``python -m
factoryos.ui`` runs one in the foreground on a cluster.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from factoryos.errors import InvalidInputError

#: How long ``start`` waits for the server to listen.
START_SECONDS = 15.0


class DashboardServer:
    """One uvicorn server for ``app`` on ``host:port`` (port 0: any free port)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8400) -> None:
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            ws_ping_interval=20.0,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Listen (raises ``InvalidInputError`` when the address is taken), then serve."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="dashboard", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InvalidInputError(f"the dashboard did not start on {self.url}")
            time.sleep(0.02)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise InvalidInputError(
                f"the dashboard cannot listen on {self.host}:{self.port}: {exc.strerror} "
                "(choose another with --port, or --no-dashboard)"
            ) from None
        sock.set_inheritable(False)
        return sock

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve in the foreground (uvicorn handles SIGINT/SIGTERM)."""
        self._server.run(sockets=[self._bind()])
