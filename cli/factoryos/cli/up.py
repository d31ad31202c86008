"""``sf up``: the embedded factory in the foreground: control plane and dashboard.

It holds the control-plane lock for ``$FACTORYOS_HOME``, reconciles every
Product and Run, and prints what changes; the dashboard is served from the
same process (``--host``/``--port``, 127.0.0.1:8400 by default). Ctrl-C (or
SIGTERM) stops it cleanly: running workloads are stopped gracefully, keep
their checkpoints, and resume on the next ``sf up``.

The dashboard is its own process (``python -m factoryos.ui``), a child of
``sf up``: its event loop never waits on the control plane's Python work,
and the two adapters stay independent (docs/decisions.md). It and the
runners' fork server end with ``sf up`` however it dies, SIGKILL included
(``factoryos.parent_death``), and are recorded in ``$FACTORYOS_HOME``, so the
next ``sf up`` ends any left running before it binds the port
(``factoryos.controlplane.leftovers``). Only runner workloads outlive a
killed ``sf up``, and the next one adopts them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated

import typer

from factoryos.cli.factory import STORE_FILE, on_cluster
from factoryos.cli.output import progress
from factoryos.controlplane import ControlPlaneLock, HelperRecord, LocalControlPlane
from factoryos.errors import InvalidInputError
from factoryos.launch import LocalProcessLauncher
from factoryos.parent_death import die_with_parent
from factoryos.settings import Settings
from factoryos.store import LocalStore
from factoryos.telemetry import Telemetry
from factoryos.workloads import Sandboxing


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
    helpers = HelperRecord(settings.home)
    for left in helpers.sweep():
        progress(
            f"sf up: ended the {left.role} (pid {left.pid}) a killed control plane left running"
        )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            return
        progress(f"sf up: {signal.Signals(signum).name}: stopping (runs keep their checkpoints)")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    store = LocalStore(settings.home / STORE_FILE)
    launcher = LocalProcessLauncher(
        settings.runs_dir,
        os.environ,
        prewarm=settings.runner_prewarm,
        tools_dir=settings.tools_dir,
        sandbox=settings.sandbox,
        niceness=settings.build_nice,
    )
    for pid in launcher.helper_pids:
        helpers.add("fork server", pid)
    _say_isolation(launcher.isolation)
    tracing = Telemetry.from_env("factoryos-controlplane", os.environ)
    plane = LocalControlPlane(
        store, launcher, settings.runs_dir, report=_report, grace_seconds=grace, telemetry=tracing
    )
    progress(
        f"sf up: control plane running (pid {os.getpid()}, home {settings.home}); Ctrl-C to stop"
    )
    server = _start_dashboard(host, port) if dashboard else None
    if server is not None:
        helpers.add("dashboard", server.pid)
    try:
        plane.run(stop)
    finally:
        if server is not None:
            _stop_dashboard(server)
        stopped = plane.shutdown()
        tracing.shutdown()
        launcher.close()
        helpers.clear()
        store.close()
        lock.release()
        if stopped:
            progress(f"sf up: stopped {stopped} workload(s); their runs resume on the next `sf up`")
        progress("sf up: stopped")


def _say_isolation(isolation: Sandboxing) -> None:
    """Whether candidates run sandboxed; loudly when they do not (every Run says it too)."""
    if isolation.isolated:
        progress(f"sf up: {isolation.message}")
        return
    progress(f"sf up: WARNING: candidates are NOT sandboxed: {isolation.message}")
    progress(
        "sf up: WARNING: their agents can read the holdouts, the dashboard token, the store "
        "and other runs; products with spec.isolation: required will not run"
    )


def _start_dashboard(host: str, port: int) -> subprocess.Popen[str]:
    """``python -m factoryos.ui`` as a child process; its address is printed once it listens.

    It ends with us, by any signal: it keeps no state (the store is SQLite), so SIGKILL.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "factoryos.ui", "--host", host, "--port", str(port), "--announce"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    threading.Thread(
        target=_relay, args=(child, host), name="dashboard-output", daemon=True
    ).start()
    return child


def _relay(child: subprocess.Popen[str], host: str) -> None:
    """Print the dashboard's address (and a new token, once), then whatever it says."""
    assert child.stdout is not None
    for line in child.stdout:
        try:
            announce = json.loads(line)
        except ValueError:
            progress(f"dashboard: {line.rstrip()}")
            continue
        progress(f"sf up: dashboard at {announce['url']}")
        if "token" in announce:
            progress(f"sf up: dashboard token (shown once; kept in {announce['token_file']}):")
            progress(f"  {announce['token']}")
        else:
            progress(f"sf up: sign in with the token in {announce['token_file']}")
        if host not in {"127.0.0.1", "localhost", "::1"}:
            progress(
                f"sf up: the dashboard listens on {host}: anyone who reaches it needs the token"
            )
    code = child.wait()
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        progress(f"sf up: the dashboard exited ({code}); the control plane goes on")


def _stop_dashboard(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _report(line: str) -> None:
    progress(f"[{datetime.now().strftime('%H:%M:%S')}] {line}")
