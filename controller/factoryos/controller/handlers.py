"""The kopf handlers of the Factory OS operator: when to reconcile, never how.

Level-based: every watch event of a Product, a Run or a runner Job (and a
timer, for what no event announces) runs one reconcile pass of the object
concerned, which re-reads everything it needs. Passes of one object never
overlap (a lock per object); a pass that loses a write race or fails is
simply run again by the next event or timer. Status is written only by the
pass, once, when it changed. Notable transitions become Kubernetes Events on
the object. Runner Jobs carry an owner reference to their Run, so deleting a
Run (after its finalizer has stopped them) garbage-collects them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client, config

from factoryos.controlplane import Notice, PassResult, Reconciler
from factoryos.errors import FactoryError
from factoryos.launch.jobs import RUN_LABEL, RUNS_DIR, KubeJobLauncher, KubeSettings
from factoryos.models import Run
from factoryos.store.apiserver import KubeStore
from factoryos.telemetry import CONSOLE_ONLY, Telemetry
from factoryos.version import API_GROUP, API_VERSION

#: A resync for what no watch event announces (e.g. a Job's pod stuck Pending).
RESYNC_SECONDS = 30.0
log = logging.getLogger("factoryos.operator")


class Operator:
    """What the handlers share: the reconciler over the cluster, and a lock per object."""

    def __init__(
        self, api: client.ApiClient, settings: KubeSettings, telemetry: Telemetry | None = None
    ) -> None:
        self._events = client.CoreV1Api(api)
        self.telemetry = telemetry or Telemetry.off()
        self.store = KubeStore(api)
        launcher = KubeJobLauncher(api, settings)
        self.reconciler = Reconciler(
            self.store,
            launcher,
            Path(RUNS_DIR),  # a path inside the runner pods
            report=self._notify,
            repo_check=lambda _product: None,  # repositories live where the pods are
            stages=launcher.stages,  # the runners' progress reports
            telemetry=self.telemetry,
        )
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def run(self, namespace: str, name: str) -> PassResult:
        return self._locked(("Run", namespace, name), lambda: self.reconciler.run(namespace, name))

    def product(self, namespace: str, name: str) -> PassResult:
        result = self._locked(
            ("Product", namespace, name), lambda: self.reconciler.product(namespace, name)
        )
        # Its runs may be queued behind each other, or waiting for it to exist.
        for run in self.store.list(Run, namespace):
            if run.spec.product_ref.name == name:
                self.run(namespace, run.metadata.name)
        return result

    def _locked(self, key: tuple[str, str, str], work: Callable[[], PassResult]) -> PassResult:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return work()

    def _notify(self, notice: Notice) -> None:
        """A Kubernetes Event on the object (and a console line: the reconciler exports the
        notice in its run's trace)."""
        log.info("%s", notice, extra=CONSOLE_ONLY)
        now = datetime.now(UTC)
        event = {
            "metadata": {
                "generateName": f"{notice.name}.",
                "namespace": notice.namespace,
            },
            "involvedObject": {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": notice.kind,
                "name": notice.name,
                "namespace": notice.namespace,
            },
            "reason": notice.reason,
            "message": notice.message,
            "type": "Warning" if notice.warning else "Normal",
            "source": {"component": "factoryos-operator"},
            "firstTimestamp": now.isoformat(),
            "lastTimestamp": now.isoformat(),
            "count": 1,
        }
        try:
            self._events.create_namespaced_event(notice.namespace, event)  # type: ignore[arg-type]
        except client.exceptions.ApiException as exc:
            log.warning("could not post an Event for %s: %s", notice, exc.reason)


def api_client() -> client.ApiClient:
    """In a pod, its service account; elsewhere, KUBECONFIG (or ~/.kube/config)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return client.ApiClient()
    # The client reads KUBECONFIG once, at import; read it now instead.
    kubeconfig = os.environ.get("KUBECONFIG") or None
    api: client.ApiClient = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    return api


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """The pod's service account in a cluster, else KUBECONFIG, read now (not at import)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf")
    settings.posting.level = logging.WARNING  # our own Events say what matters
    settings.watching.server_timeout = 60
    # Peering (standalone, name, priority) comes from how kopf was started: see __main__.
    memo.operator = Operator(
        api_client(),
        KubeSettings.from_env(os.environ),
        Telemetry.from_env("factoryos-operator", os.environ),
    )


@kopf.on.cleanup()
def flush(memo: kopf.Memo, **_: Any) -> None:
    """Export what telemetry is left when the operator stops."""
    operator: Operator | None = getattr(memo, "operator", None)
    if operator is not None:
        operator.telemetry.shutdown()


def _pass(work: Callable[[], PassResult], what: str) -> None:
    try:
        work()
    except FactoryError as exc:  # reported; the next event or the timer tries again
        log.warning("%s: %s", what, exc)


@kopf.on.event(API_GROUP, API_VERSION, "products")
def product_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    _pass(lambda: memo.operator.product(namespace or "default", name), f"product {name}")


@kopf.on.event(API_GROUP, API_VERSION, "runs")
def run_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    _pass(lambda: memo.operator.run(namespace or "default", name), f"run {name}")


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT})
def job_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    run = labels[RUN_LABEL]
    _pass(lambda: memo.operator.run(namespace or "default", run), f"run {run}")


@kopf.timer(API_GROUP, API_VERSION, "runs", interval=RESYNC_SECONDS, idle=RESYNC_SECONDS)
def run_resync(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    _pass(lambda: memo.operator.run(namespace or "default", name), f"run {name}")


@kopf.timer(API_GROUP, API_VERSION, "products", interval=RESYNC_SECONDS, idle=RESYNC_SECONDS)
def product_resync(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    _pass(lambda: memo.operator.product(namespace or "default", name), f"product {name}")
