"""``sf up``: the embedded factory in the foreground: control plane and dashboard.

It holds the control-plane lock for ``$FACTORYOS_HOME``, reconciles every
Product and Run, and prints what changes; the dashboard is served from the
same process (``--host``/``--port``, 127.0.0.1:8400 by default). Ctrl-C (or
SIGTERM) stops it cleanly: running workloads are stopped gracefully, keep
their checkpoints, and resume on the next ``sf up``.

This is the one place an adapter reaches another: ``sf up`` composes the
dashboard (``factoryos.ui``) into the process, imported only here and only
when it is served (see docs/decisions.md).
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from factoryos.admission import admitter
from factoryos.cli.factory import STORE_FILE, on_cluster
from factoryos.cli.output import progress
from factoryos.controlplane import ControlPlaneLock, LocalControlPlane
from factoryos.errors import InvalidInputError
from factoryos.launch import LocalProcessLauncher
from factoryos.settings import Settings
from factoryos.store import LocalStore

if TYPE_CHECKING:
    from factoryos.ui.server import DashboardServer


def up(
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a stopping workload gets before it is killed.")
    ] = 5.0,
    host: Annotated[
        str, typer.Option("--host", help="Address the dashboard listens on (default: loopback).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Dashboard port (0: any free port).")
    ] = 8400,
    dashboard: Annotated[
        bool, typer.Option("--dashboard/--no-dashboard", help="Serve the web dashboard.")
    ] = True,
) -> None:
    """Start the local factory in the foreground: control plane and dashboard (Ctrl-C stops)."""
    settings = Settings.from_env()
    if on_cluster(settings):
        raise InvalidInputError(
            "sf up runs the local control plane; on a cluster the operator reconciles "
            "(install it with `helm install` or `kubectl apply -k manifests/`)"
        )
    lock = ControlPlaneLock(settings.home)
    lock.acquire()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            return
        progress(f"sf up: {signal.Signals(signum).name}: stopping (runs keep their checkpoints)")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    store = LocalStore(settings.home / STORE_FILE)
    launcher = LocalProcessLauncher(settings.runs_dir, os.environ, prewarm=settings.runner_prewarm)
    plane = LocalControlPlane(
        store, launcher, settings.runs_dir, report=_report, grace_seconds=grace
    )
    progress(
        f"sf up: control plane running (pid {os.getpid()}, home {settings.home}); Ctrl-C to stop"
    )
    server = None
    try:
        if dashboard:
            server = _start_dashboard(settings, host, port)
        plane.run(stop)
    finally:
        if server is not None:
            server.stop()
        stopped = plane.shutdown()
        launcher.close()
        store.close()
        lock.release()
        if stopped:
            progress(f"sf up: stopped {stopped} workload(s); their runs resume on the next `sf up`")
        progress("sf up: stopped")


def _start_dashboard(settings: Settings, host: str, port: int) -> DashboardServer:
    from factoryos.ui import Dashboard, create_app
    from factoryos.ui.auth import TOKEN_FILE, Credentials, load_or_create_token
    from factoryos.ui.server import DashboardServer

    token, created = load_or_create_token(settings.home)
    store = LocalStore(settings.home / STORE_FILE)
    app = create_app(
        Dashboard(
            store=store,
            runs_dir=settings.runs_dir,
            credentials=Credentials(token),
            admit=admitter(settings, store, os.environ),
            cxdb_ui_url=os.environ.get("FACTORYOS_CXDB_UI_URL") or None,
        )
    )
    server = DashboardServer(app, host, port)
    server.start()
    progress(f"sf up: dashboard at {server.url}")
    if created:
        progress(f"sf up: dashboard token (shown once; kept in {settings.home / TOKEN_FILE}):")
        progress(f"  {token}")
    else:
        progress(f"sf up: sign in with the token in {settings.home / TOKEN_FILE}")
    if host not in {"127.0.0.1", "localhost", "::1"}:
        progress(f"sf up: the dashboard listens on {host}: anyone who can reach it needs the token")
    return server


def _report(line: str) -> None:
    progress(f"[{datetime.now().strftime('%H:%M:%S')}] {line}")
