"""The factory as ``sf`` commands see it: the store, the settings, the pipeline check.

Every command that reads or writes Products and Runs opens its store through
``open_store``: the ``LocalStore`` in ``$FACTORYOS_HOME``, or, with ``sf
--context`` (FACTORYOS_CONTEXT), the cluster's custom resources through
``KubeStore`` (imported only then: the Kubernetes client is slow to import).
Commands that need the local control plane running ask
``require_control_plane``, which says so plainly instead of waiting forever;
on a cluster the operator is the control plane.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from factoryos.cli.readonly import STORE_FILE as STORE_FILE
from factoryos.controlplane.lock import control_plane_pid
from factoryos.errors import FactoryError, InvalidInputError
from factoryos.models import Product, Run
from factoryos.settings import Settings
from factoryos.store import LocalStore, ResourceStore

if TYPE_CHECKING:
    from factoryos.admission import Admitter

#: How to reach the dashboard, which holds a cluster's run events, from a workstation.
DASHBOARD_HINT = (
    "set FACTORYOS_DASHBOARD_URL (e.g. http://127.0.0.1:8400/ with `kubectl -n "
    "factoryos-system port-forward svc/factoryos-dashboard 8400`) and FACTORYOS_DASHBOARD_TOKEN"
)

NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


class ControlPlaneDownError(FactoryError):
    """A command needs ``sf up`` running and it is not (``sf`` exits 6: see ``exits``)."""


def open_store(settings: Settings) -> ResourceStore:
    if settings.kube_context is None:
        return LocalStore(settings.home / STORE_FILE)
    from kubernetes import config

    from factoryos.store.apiserver import KubeStore

    try:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=settings.kubeconfig, context=settings.kube_context
        )
    except (config.ConfigException, OSError) as exc:
        raise InvalidInputError(f"--context {settings.kube_context}: {exc}") from None
    return KubeStore(api)


def on_cluster(settings: Settings) -> bool:
    return settings.kube_context is not None


def admit_to(
    settings: Settings,
    resource: Product | Run,
    store: ResourceStore,
    pending: list[Product] | None = None,
) -> None:
    """The admission checks for where ``sf`` works: all of them locally, fewer on a cluster."""
    admission(settings, store)(resource, pending)


def admission(settings: Settings, store: ResourceStore) -> Admitter:
    """``admit_to`` for many resources of one request (``sf apply``): each pipeline is
    validated once."""
    # Imported here: the checks load the Kilroy adapter and the stacks, which only
    # the commands that create something need (``sf run list`` must start fast).
    from factoryos.admission import admitter

    return admitter(settings, store, os.environ)


def require_control_plane(settings: Settings, why: str) -> int | None:
    if on_cluster(settings):
        return None  # the operator reconciles; nothing local to check
    pid = control_plane_pid(settings.home)
    if pid is None:
        raise ControlPlaneDownError(
            f"{why} needs the control plane, and it is not running for {settings.home}: "
            "start it with `sf up` (in another terminal)"
        )
    return pid
