"""The kopf handlers of the Factory OS operator: when to reconcile, never how.

Level-based: each Product and Run has a daemon (``requeue.follow``) that runs
its reconcile passes, each of which re-reads everything it needs: again when
the pass asked (``requeue_after``), at a resync for what no event announces,
and whenever a watch event of the object, of its runner Jobs or of its product
wakes it. An object nothing follows (being deleted, or before its daemon is
up) is reconciled by the event handler itself. Passes of one object never
overlap (a lock per object). A pass's error gets kopf's answer
(``error_mapping.translate``): a retry after a delay, or, for input the core cannot
use, a Stalled condition and no retries until the spec changes. Status is
written only by the pass (or the stall), once, when it changed. Notable
transitions become Kubernetes Events on the object. Runner Jobs carry an owner
reference to their Run, so deleting a Run (after its finalizer has stopped
them) garbage-collects them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import kopf
from kubernetes import client, config

from factoryos.controller.error_mapping import StalledError, translate
from factoryos.controller.requeue import Stopped, Wakeups, follow
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
T = TypeVar("T")


class Operator:
    """What the handlers share: the reconciler over the cluster, a lock per object, and
    the objects' followers."""

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
        self.wakeups = Wakeups()
        self._product_generations: dict[tuple[str, str], int | None] = {}

    def run(self, namespace: str, name: str) -> PassResult:
        return self._locked(("Run", namespace, name), lambda: self.reconciler.run(namespace, name))

    def product(self, namespace: str, name: str) -> PassResult:
        return self._locked(
            ("Product", namespace, name), lambda: self.reconciler.product(namespace, name)
        )

    def reconcile(self, kind: str, namespace: str, name: str) -> PassResult:
        """One pass over the ``kind`` (Product or Run) ``namespace/name``."""
        return (self.run if kind == "Run" else self.product)(namespace, name)

    def touch(self, kind: str, namespace: str, name: str, *, retry: bool = False) -> None:
        """Something about ``kind`` ``namespace/name`` may have changed: wake its follower,
        or reconcile it now when nothing follows it. ``retry``: even if it stalled."""
        if self.wakeups.wake((kind, namespace, name), retry=retry):
            return
        try:
            self.reconcile(kind, namespace, name)
        except FactoryError as exc:
            if not isinstance(self.answer(kind, namespace, name, exc), StalledError):
                log.warning("%s %s/%s: %s", kind.lower(), namespace, name, exc)

    def product_changed(self, namespace: str, name: str, generation: int | None) -> None:
        """A watch event of a Product: reconcile it, then its runs, which may be queued
        behind each other or waiting for it; stalled ones try again if its spec changed."""
        changed = self._product_generations.get((namespace, name), -1) != generation
        self._product_generations[(namespace, name)] = generation
        self.touch("Product", namespace, name)
        try:
            runs = self.store.list(Run, namespace)
        except FactoryError as exc:  # their followers will look at the resync
            log.warning("product %s/%s: cannot list its runs: %s", namespace, name, exc)
            return
        for run in runs:
            if run.spec.product_ref.name == name:
                self.touch("Run", namespace, run.metadata.name, retry=changed)

    def answer(
        self, kind: str, namespace: str, name: str, exc: FactoryError
    ) -> kopf.TemporaryError | StalledError | None:
        """kopf's answer to a pass's ``exc`` (``error_mapping.translate``); a stall is recorded on
        the object through the core's status writer."""
        error = translate(exc)
        if isinstance(error, StalledError):
            log.warning("%s %s/%s stalled: %s", kind.lower(), namespace, name, exc)
            try:
                self._locked(
                    (kind, namespace, name),
                    lambda: self.reconciler.stall(kind, namespace, name, error.reason, str(error)),
                )
            except FactoryError as failed:  # e.g. an object the core cannot even read
                log.warning("%s %s/%s: cannot record the stall: %s", kind, namespace, name, failed)
        return error

    async def follow(
        self, kind: str, namespace: str, name: str, stopped: Stopped, meta: Mapping[str, Any]
    ) -> None:
        """The loop of the daemon of ``kind`` ``namespace/name`` (``requeue.follow``)."""
        unanswered = await follow(
            self.wakeups,
            (kind, namespace, name),
            lambda: self.reconcile(kind, namespace, name),
            stopped=stopped,
            generation=lambda: meta.get("generation"),
            answer=lambda exc: self.answer(kind, namespace, name, exc),
            resync=RESYNC_SECONDS,
        )
        if unanswered:  # e.g. the event that began its deletion, which stopped the daemon
            # Not awaited: kopf keeps its finalizer until the daemon has exited, and that
            # pass may release ours, whose event kopf must see with the daemon gone.
            asyncio.get_running_loop().run_in_executor(None, self.touch, kind, namespace, name)

    def _locked(self, key: tuple[str, str, str], work: Callable[[], T]) -> T:
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
    # Where kopf keeps its own state, and the "touch" with which it wakes itself after a
    # delay (to see a stopped daemon gone and drop its finalizer, to retry a patch that
    # lost a race). Not status.kopf: the CRDs' structural schema prunes it, so every
    # touch was silently lost and a deletion could wait for an unrelated event.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kopf.factoryos.dev"
    )
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


@kopf.on.event(API_GROUP, API_VERSION, "products")
def product_changed(
    namespace: str | None, name: str, meta: kopf.Meta, memo: kopf.Memo, **_: Any
) -> None:
    memo.operator.product_changed(namespace or "default", name, meta.get("generation"))


@kopf.on.event(API_GROUP, API_VERSION, "runs")
def run_changed(
    event: kopf.RawEvent,
    namespace: str | None,
    name: str,
    spec: kopf.Spec,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    memo.operator.touch("Run", namespace or "default", name)
    product = (spec.get("productRef") or {}).get("name")
    if event["type"] == "DELETED" and product:  # a product being deleted waits for its runs
        memo.operator.touch("Product", namespace or "default", product)


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT})
def job_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    memo.operator.touch("Run", namespace or "default", labels[RUN_LABEL])


@kopf.on.event("", "v1", "configmaps", labels={RUN_LABEL: kopf.PRESENT})
def progress_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    """A runner patched its progress report: fold it into the Run's stages now."""
    memo.operator.touch("Run", namespace or "default", labels[RUN_LABEL])


@kopf.on.event("", "v1", "pods", labels={RUN_LABEL: kopf.PRESENT})
def pod_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    """A runner pod changed (it cannot pull its image, it has no room, it started)."""
    memo.operator.touch("Run", namespace or "default", labels[RUN_LABEL])


#: How often kopf looks whether a stopped daemon has exited (a pass under way finishes
#: first) before it lets the object go; its default, 60 s, would hold deletions that long.
EXIT_POLL_SECONDS = 1.0


@kopf.daemon(API_GROUP, API_VERSION, "runs", cancellation_polling=EXIT_POLL_SECONDS)
async def follow_run(
    stopped: kopf.DaemonStopped,
    namespace: str | None,
    name: str,
    meta: kopf.Meta,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """A Run's passes: when the core asks, when anything about it changes, at the resync."""
    await memo.operator.follow("Run", namespace or "default", name, stopped, meta)


@kopf.daemon(API_GROUP, API_VERSION, "products", cancellation_polling=EXIT_POLL_SECONDS)
async def follow_product(
    stopped: kopf.DaemonStopped,
    namespace: str | None,
    name: str,
    meta: kopf.Meta,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """A Product's passes, the same way."""
    await memo.operator.follow("Product", namespace or "default", name, stopped, meta)
