"""The embedded factory as ``sf`` commands see it: the store, the settings, the pipeline check.

Every command that reads or writes Products and Runs opens the ``LocalStore``
in ``$FACTORYOS_HOME`` through ``open_store``; commands that need the control
plane running ask ``require_control_plane``, which says so plainly instead
of waiting forever.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from factoryos.controlplane import control_plane_pid
from factoryos.errors import FactoryError
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.runner import ensure_valid
from factoryos.settings import Settings
from factoryos.store import LocalStore

STORE_FILE = "factoryos.db"

NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


class ControlPlaneDownError(FactoryError):
    """A command needs ``sf up`` running and it is not."""

    exit_code = 6


def open_store(settings: Settings) -> LocalStore:
    return LocalStore(settings.home / STORE_FILE)


def pipeline_check(settings: Settings) -> Callable[[Path], None]:
    kilroy = Kilroy(find_kilroy(settings, os.environ), settings)

    def check(path: Path) -> None:
        (validation,) = kilroy.validate([path])
        ensure_valid(validation)

    return check


def require_control_plane(settings: Settings, why: str) -> int:
    pid = control_plane_pid(settings.home)
    if pid is None:
        raise ControlPlaneDownError(
            f"{why} needs the control plane, and it is not running for {settings.home}: "
            "start it with `sf up` (in another terminal)"
        )
    return pid
