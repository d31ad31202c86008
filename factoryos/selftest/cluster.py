"""``ClusterFactory``: ``sf selftest --context``'s target, a cluster running the operator.

Products are made from the example products the runner image carries
(``/opt/examples/smoke`` and ``/opt/examples/selftest``, git repositories
there), in a namespace of their own that is created and, unless kept,
deleted afterwards. What is left of a run is its pods (by the run label)
that are still Pending or Running; its events come from the dashboard's copy
(``DashboardEvents``). The run branches live on the runs' volumes, out of
reach, so ``branch_file`` answers None and the checks say so.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from factoryos.errors import ClusterError
from factoryos.events.dashboard import DashboardEvents
from factoryos.launch.jobs import RUN_LABEL
from factoryos.models import Product, parse_as
from factoryos.selftest.target import SMOKE_PRODUCT, SelftestTarget
from factoryos.store import ResourceStore

#: Where the runner image keeps the example products and the scripted agent.
IMAGE_EXAMPLES = "/opt/examples"
#: Pod phases that mean something of the run still runs.
RUNNING_PHASES = frozenset({"Pending", "Running"})


class ClusterFactory(SelftestTarget):
    """The operator on a cluster; one namespace for the selftest's resources."""

    #: A stopped run's pods get this long to terminate (kubelet grace included).
    stop_grace_seconds = 60.0

    def __init__(
        self,
        store: ResourceStore,
        api: client.ApiClient,
        events: DashboardEvents,
        namespace: str,
        *,
        create_namespace: bool = True,
        keep: bool = False,
        examples: str = IMAGE_EXAMPLES,
    ) -> None:
        super().__init__(store, namespace)
        self.core = client.CoreV1Api(api)
        self.dashboard = events
        self.create_namespace = create_namespace
        self.keep = keep
        self.examples = examples.rstrip("/")

    def start(self) -> None:
        if not self.create_namespace:
            return
        meta = client.V1ObjectMeta(name=self.namespace, labels={"factoryos.dev/selftest": "true"})
        try:
            self.core.create_namespace(client.V1Namespace(metadata=meta))
        except ApiException as exc:
            raise ClusterError(f"cannot create namespace {self.namespace}: {exc.reason}") from None

    def close(self) -> None:
        if self.create_namespace and not self.keep:
            try:
                self.core.delete_namespace(self.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise ClusterError(
                        f"cannot delete namespace {self.namespace}: {exc.reason}"
                    ) from None

    def product(self, name: str, example: str, **spec: Any) -> None:
        repo = f"{self.examples}/{example}"
        if example == SMOKE_PRODUCT:
            agent = f"{self.examples}/agents/scripted-agent"
            spec.setdefault("engine", {"agentProfile": "test_shim", "agentExecutable": agent})
        body = {"metadata": {"name": name, "namespace": self.namespace},
                "spec": {"repo": {"path": repo}, **spec}}  # fmt: skip
        self.store.create(parse_as(Product, body))

    def leftovers(self, run: str) -> list[str]:
        try:
            pods = self.core.list_namespaced_pod(
                self.namespace, label_selector=f"{RUN_LABEL}={run}"
            ).items
        except ApiException as exc:
            raise ClusterError(f"cannot list the pods of {run}: {exc.reason}") from None
        return [
            f"pod {p.metadata.name if p.metadata else '?'} ({p.status.phase})"
            for p in pods
            if p.status is not None and p.status.phase in RUNNING_PHASES
        ]

    def raw_events(self, run: str) -> list[dict[str, Any]]:
        return self.dashboard.raw(self.namespace, run)

    def branch_file(self, run: str, path: str, candidate: int = 0) -> str | None:
        return None
