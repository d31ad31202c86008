"""The cluster install: the kustomize base and the Helm chart, checked by the real tools.

`helm lint`, `helm template`, and the API server itself (server-side dry run)
judge the objects; the chart and the manifests must grant the same rights and
run the operator the same way; chart values reach the settings the operator
reads.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_support import ROOT, TestCluster, helm_bin, kubectl_at

from factoryos.launch.jobs import KubeSettings

CHART = ROOT / "helm" / "factoryos"


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_bin()


def render_text(helm: Path, *sets: str) -> str:
    """``helm template`` of the chart with ``--set`` values, as YAML text."""
    args = [str(helm), "template", "factoryos", str(CHART)]
    for value in sets:
        args += ["--set", value]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def render(helm: Path, *sets: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(render_text(helm, *sets)) if d]


def server_dry_run(k8s_bins: Path, cluster: TestCluster, helm: Path, *sets: str) -> str:
    """What the API server says of the rendered chart (namespace made elsewhere)."""
    rendered = render_text(helm, "namespace.create=false", *sets)
    done = kubectl_at(
        k8s_bins, cluster.kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=rendered
    )
    return done.stdout


def by_kind(
    docs: list[dict[str, Any]], kind: str, name: str = "factoryos-operator"
) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def manifest_docs() -> list[dict[str, Any]]:
    docs = []
    for folder, names in (
        ("operator", ("rbac.yaml", "deployment.yaml")),
        ("dashboard", ("rbac.yaml", "deployment.yaml", "service.yaml", "storage.yaml")),
    ):
        for name in names:
            docs += list(yaml.safe_load_all((ROOT / "manifests" / folder / name).read_text()))
    return docs


def env_values(container: dict[str, Any]) -> dict[str, str]:
    """The plain-value variables of a container (those from Secrets left out)."""
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_helm_lint_passes(helm: Path) -> None:
    done = subprocess.run([str(helm), "lint", str(CHART)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_api_server_accepts_the_chart_and_the_manifests(
    helm: Path, k8s_bins: Path, cluster: TestCluster, operator_kubeconfig: Path
) -> None:
    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return kubectl_at(k8s_bins, cluster.kubeconfig, *args, stdin=stdin)

    chart = server_dry_run(k8s_bins, cluster, helm)
    base = kubectl("apply", "--dry-run=server", "-k", str(ROOT / "manifests"))
    assert "deployment.apps/factoryos-operator created (server dry run)" in chart
    assert "clusterrole.rbac.authorization.k8s.io/factoryos-operator" in base.stdout
    assert "customresourcedefinition.apiextensions.k8s.io/runs.factoryos.dev" in base.stdout


def test_the_chart_and_the_manifests_grant_the_same_rights(helm: Path) -> None:
    chart, plain = render(helm), manifest_docs()
    assert by_kind(chart, "ClusterRole")["rules"] == by_kind(plain, "ClusterRole")["rules"]
    assert (
        by_kind(chart, "ClusterRoleBinding")["subjects"]
        == (by_kind(plain, "ClusterRoleBinding")["subjects"])
    )
    ours, theirs = (by_kind(d, "Deployment")["spec"]["template"]["spec"] for d in (chart, plain))
    for key in ("serviceAccountName", "securityContext"):
        assert ours[key] == theirs[key]
    for key in ("command", "securityContext", "livenessProbe", "image"):
        assert ours["containers"][0][key] == theirs["containers"][0][key]


def test_chart_values_reach_the_operator_settings(helm: Path) -> None:
    docs = render(
        helm,
        "image.repository=reg.example/factoryos", "image.tag=1.2.3",
        "gpu.nodeSelector.pool=a100", "gpu.count=2", "runner.storageClass=fast",
        "operator.extraEnv[0].name=OTEL_EXPORTER_OTLP_ENDPOINT",
        "operator.extraEnv[0].value=http://collector:4318",
    )  # fmt: skip
    (container,) = by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    settings = KubeSettings.from_env(env_values(container))
    assert container["image"] == "reg.example/factoryos:1.2.3"
    assert settings.runner_image == "reg.example/factoryos:1.2.3"
    assert settings.gpu_node_selector == {"factoryos.dev/gpu": "true", "pool": "a100"}
    assert settings.gpu_count == 2 and settings.storage_class == "fast"
    assert settings.otel_env == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


def test_both_installs_give_the_operator_the_same_runner_settings(helm: Path) -> None:
    # The chart once set the runners' ServiceAccount to "": every Job was refused.
    chart, plain = render(helm), manifest_docs()
    settings = [
        KubeSettings.from_env(
            env_values(by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0])
        )
        for docs in (chart, plain)
    ]
    assert settings[0] == settings[1]
    assert settings[0].service_account == "factoryos-runner"


def test_cxdb_is_off_by_default_and_wired_into_runners_when_on(
    helm: Path, k8s_bins: Path, cluster: TestCluster, operator_kubeconfig: Path
) -> None:
    assert not [d for d in render(helm) if "cxdb" in d["metadata"]["name"]]
    docs = render(helm, "cxdb.enabled=true", "cxdb.uiUrl=http://cxdb.example")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs if "cxdb" in d["metadata"]["name"]}
    dashboard = by_kind(docs, "Deployment", "factoryos-dashboard")["spec"]["template"]["spec"]
    assert env_values(dashboard["containers"][0])["FACTORYOS_CXDB_UI_URL"] == "http://cxdb.example"
    assert kinds == {("Service", "factoryos-cxdb"), ("StatefulSet", "factoryos-cxdb")}
    (container,) = by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    settings = KubeSettings.from_env(env_values(container))
    assert settings.cxdb_env == {
        "FACTORYOS_CXDB_HTTP_URL": "http://factoryos-cxdb.factoryos-system.svc:9010",
        "FACTORYOS_CXDB_BINARY_ADDR": "factoryos-cxdb.factoryos-system.svc:9009",
        "FACTORYOS_CXDB_UI_URL": "http://cxdb.example",
    }
    accepted = server_dry_run(k8s_bins, cluster, helm, "cxdb.enabled=true")
    assert "statefulset.apps/factoryos-cxdb created (server dry run)" in accepted


def test_the_dashboard_is_installed_the_same_way_by_both(helm: Path) -> None:
    chart, plain = render(helm), manifest_docs()
    name = "factoryos-dashboard"
    assert (
        by_kind(chart, "ClusterRole", name)["rules"] == by_kind(plain, "ClusterRole", name)["rules"]
    )
    verbs = {v for rule in by_kind(plain, "ClusterRole", name)["rules"] for v in rule["verbs"]}
    assert "delete" not in verbs, "the dashboard never deletes"
    ours, theirs = (
        by_kind(d, "Deployment", name)["spec"]["template"]["spec"] for d in (chart, plain)
    )
    for key in ("serviceAccountName", "securityContext", "volumes"):
        assert ours[key] == theirs[key]
    for key in ("command", "securityContext", "readinessProbe", "livenessProbe", "volumeMounts"):
        assert ours["containers"][0][key] == theirs["containers"][0][key]
    secret_refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
        for e in ours["containers"][0]["env"]
        if "valueFrom" in e
    }
    assert secret_refs == {
        "FACTORYOS_DASHBOARD_TOKEN": "token",
        "FACTORYOS_INGEST_KEY": "ingest-key",
    }
    assert (
        by_kind(chart, "Service", name)["spec"]["ports"]
        == by_kind(plain, "Service", name)["spec"]["ports"]
    )


def test_the_operator_sends_runners_to_the_dashboard(helm: Path) -> None:
    for docs in (render(helm), manifest_docs()):
        (container,) = by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        settings = KubeSettings.from_env(env_values(container))
        assert settings.events_url == "http://factoryos-dashboard.factoryos-system.svc:8400/"
        (key,) = [e for e in container["env"] if e["name"] == "FACTORYOS_INGEST_KEY"]
        assert key["valueFrom"]["secretKeyRef"] == {
            "name": "factoryos-dashboard",
            "key": "ingest-key",
            "optional": True,
        }
    off = render(helm, "dashboard.enabled=false")
    assert not [d for d in off if d["metadata"]["name"] == "factoryos-dashboard"]
    (container,) = by_kind(off, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert KubeSettings.from_env(env_values(container)).events_url is None
    mine = render(helm, "dashboard.existingSecret=my-secret")
    assert not [d for d in mine if d["kind"] == "Secret"], "no Secret made when one is named"


def test_the_voice_service_is_off_by_default_and_on_a_gpu_when_enabled(
    helm: Path, k8s_bins: Path, cluster: TestCluster, operator_kubeconfig: Path
) -> None:  # (operator_kubeconfig: the namespace exists)
    assert not [d for d in render(helm) if d["metadata"]["name"] == "factoryos-voice"]
    chart = render(helm, "voice.enabled=true")
    plain = [
        d
        for name in ("deployment.yaml", "service.yaml")
        for d in yaml.safe_load_all((ROOT / "manifests/voice" / name).read_text())
    ]
    ours = by_kind(chart, "Deployment", "factoryos-voice")["spec"]["template"]["spec"]
    theirs = by_kind(plain, "Deployment", "factoryos-voice")["spec"]["template"]["spec"]
    for key in ("nodeSelector", "tolerations", "securityContext", "volumes"):
        assert ours[key] == theirs[key], key
    (container,) = ours["containers"]
    for key in ("readinessProbe", "securityContext", "volumeMounts", "ports"):
        assert container[key] == theirs["containers"][0][key], key
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert theirs["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert [e["name"] for e in container["env"]] == [
        e["name"] for e in theirs["containers"][0]["env"]
    ]
    accepted = server_dry_run(k8s_bins, cluster, helm, "voice.enabled=true")
    assert "deployment.apps/factoryos-voice created (server dry run)" in accepted
    base = kubectl_at(k8s_bins, cluster.kubeconfig, "apply", "--dry-run=server", "-k",
                      str(ROOT / "manifests/voice"))  # fmt: skip
    assert "deployment.apps/factoryos-voice created (server dry run)" in base.stdout
