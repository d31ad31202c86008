"""A real etcd + kube-apiserver for the whole session, with the Factory OS CRDs installed.

The binaries are built from their Go modules at the pinned versions by
tools/k8s/build.sh (`make k8s-bin`; minutes cold, cached under
~/.cache/factoryos/k8s). CRDs are installed with the kubectl built from the
same Kubernetes module, as a user would. Each test gets its own namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_support import (
    DASHBOARD_TOKEN,
    INGEST_KEY,
    ROOT,
    Kubectl,
    TestCluster,
    identity_kubeconfig,
    k8s_bin_dir,
    kubectl_at,
)
from kubernetes import client, config

from factoryos.store.apiserver import KubeStore


@pytest.fixture(scope="session")
def k8s_bins() -> Path:
    return k8s_bin_dir()


@pytest.fixture(scope="session")
def cluster(k8s_bins: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    started = TestCluster.start(k8s_bins, tmp_path_factory.mktemp("apiserver"))
    try:
        kubectl_at(k8s_bins, started.kubeconfig, "apply", "-k", str(ROOT / "crds"))
        for crd in ("products.factoryos.dev", "runs.factoryos.dev"):
            kubectl_at(
                k8s_bins, started.kubeconfig,
                "wait", "--for=condition=Established", "--timeout=30s", f"crd/{crd}",
            )  # fmt: skip
        yield started
    finally:
        started.stop()


#: The identity the operator's ClusterRoleBinding names (manifests/operator/rbac.yaml).
OPERATOR_USER = "system:serviceaccount:factoryos-system:factoryos-operator"


@pytest.fixture(scope="session")
def operator_kubeconfig(cluster: TestCluster, k8s_bins: Path) -> Path:
    """The operator's own least-privilege identity: the manifests' RBAC, applied as shipped."""
    rbac = ROOT / "manifests/operator/rbac.yaml"
    return identity_kubeconfig(cluster, k8s_bins, rbac, "factoryos-operator")


@pytest.fixture(scope="session")
def api(cluster: TestCluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def store(api: client.ApiClient) -> KubeStore:
    """The resource store over the test API server, as the operator uses it."""
    return KubeStore(api)


@pytest.fixture
def batch(api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture
def namespace(api: client.ApiClient) -> str:
    name = f"fos-test-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def kubectl(k8s_bins: Path, cluster: TestCluster, namespace: str) -> Kubectl:
    return Kubectl(k8s_bins, cluster.kubeconfig, namespace)


@pytest.fixture(scope="session")
def dashboard_kubeconfig(cluster: TestCluster, k8s_bins: Path) -> Path:
    """The dashboard's ServiceAccount, with the manifests' RBAC applied as shipped."""
    rbac = ROOT / "manifests/dashboard/rbac.yaml"
    return identity_kubeconfig(cluster, k8s_bins, rbac, "factoryos-dashboard")


@pytest.fixture
def dashboard(dashboard_kubeconfig: Path, tmp_path: Path) -> Iterator[str]:
    """``python -m factoryos.ui --in-cluster``-style, as the dashboard's identity; its URL."""
    env = {
        **os.environ,
        "FACTORYOS_CONTEXT": "test",
        "KUBECONFIG": str(dashboard_kubeconfig),
        "FACTORYOS_HOME": str(tmp_path / "home"),
        "FACTORYOS_RUNS_DIR": str(tmp_path / "runs"),
        "FACTORYOS_DASHBOARD_TOKEN": DASHBOARD_TOKEN,
        "FACTORYOS_INGEST_KEY": INGEST_KEY,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "factoryos.ui", "--port", "0", "--announce"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        yield json.loads(line)["url"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
