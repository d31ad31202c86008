"""A real etcd + kube-apiserver for the whole session, with the Factory OS CRDs installed.

The binaries are built from their Go modules at the pinned versions by
tools/k8s/build.sh (`make k8s-bin`; minutes cold, cached under
~/.cache/factoryos/k8s). CRDs are installed with the kubectl built from the
same Kubernetes module, as a user would. Each test gets its own namespace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_support import (
    ROOT,
    Kubectl,
    TestCluster,
    identity_kubeconfig,
    k8s_bin_dir,
    kubectl_at,
)
from kubernetes import client, config


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
def namespace(api: client.ApiClient) -> str:
    name = f"fos-test-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def kubectl(k8s_bins: Path, cluster: TestCluster, namespace: str) -> Kubectl:
    return Kubectl(k8s_bins, cluster.kubeconfig, namespace)
