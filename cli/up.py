"""``sf up``: the embedded control plane in the foreground.

It holds the control-plane lock for ``$FACTORYOS_HOME``, reconciles every
Product and Run, and prints what changes. Ctrl-C (or SIGTERM) stops it
cleanly: running workloads are stopped gracefully, keep their checkpoints,
and resume on the next ``sf up``.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated

import typer

from factoryos.cli.factory import STORE_FILE, on_cluster
from factoryos.cli.output import progress
from factoryos.controlplane import ControlPlaneLock, LocalControlPlane
from factoryos.errors import InvalidInputError
from factoryos.launch import LocalProcessLauncher
from factoryos.settings import Settings
from factoryos.store import LocalStore


def up(
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a stopping workload gets before it is killed.")
    ] = 5.0,
) -> None:
    """Start the local control plane in the foreground (Ctrl-C stops it; runs resume later)."""
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
    try:
        plane.run(stop)
    finally:
        stopped = plane.shutdown()
        launcher.close()
        store.close()
        lock.release()
        if stopped:
            progress(f"sf up: stopped {stopped} workload(s); their runs resume on the next `sf up`")
        progress("sf up: stopped")


def _report(line: str) -> None:
    progress(f"[{datetime.now().strftime('%H:%M:%S')}] {line}")
