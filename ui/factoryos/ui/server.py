"""Serving the dashboard: bind the address, run uvicorn in the foreground.

``python -m factoryos.ui`` (``__main__``) calls these; ``sf up`` runs that
module as its own child process, so the dashboard's event loop never waits
on the control plane's Python work (one interpreter lock each).
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from factoryos.errors import InvalidInputError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listen now, before the address is announced: connections made before uvicorn
        # has started wait in the backlog instead of being refused.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InvalidInputError(
            f"the dashboard cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(choose another with --port, or --no-dashboard)"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn shuts down gracefully)."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        ws_ping_interval=20.0,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run(sockets=[sock])
