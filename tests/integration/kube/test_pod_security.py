"""Every pod the kustomize manifests and the chart make passes Pod Security "restricted".

The namespace enforces that level, so a pod template that breaks one of its rules
never gets a pod. Each rendering (``kubectl kustomize`` of every kustomization,
``helm template`` with each optional part on) is read by a checker of the profile's
rules, and the pods are offered to a real API server (server-side dry run) in the
namespace as shipped, whose Pod Security admission must accept them. The voice
service's CPU variant is the same in both and has nothing of the GPU.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_support import ROOT, TestCluster, helm_bin, k8s_bin_dir, kubectl_at

SYSTEM = "factoryos-system"
KUSTOMIZATIONS = ["manifests", "manifests/voice", "manifests/voice-cpu"]
CHART_VALUES = {
    "default": [],
    "voice-gpu": ["voice.enabled=true"],
    "voice-cpu": ["voice.enabled=true", "voice.gpu=false"],
    "cxdb": ["cxdb.enabled=true"],
    "other-namespace": ["namespace.name=factory", "voice.enabled=true", "voice.gpu=false"],
}
#: Volume types the restricted profile allows.
VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
           "projected", "secret"}  # fmt: skip
#: Sysctls the baseline (and so restricted) profile allows.
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}  # fmt: skip
#: Our own containers: read-only root filesystems, writable /tmp, HOME there.
OURS = {"operator", "dashboard", "voice"}


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """What in a pod spec breaks the Pod Security "restricted" profile (latest)."""
    found: list[str] = []
    pod = spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"{key}: true")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= VOLUMES:
            found.append(f"volume {volume['name']}: {', '.join(sorted(kinds - VOLUMES))}")
    for sysctl in pod.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl['name']}")
    if (pod.get("windowsOptions") or {}).get("hostProcess"):
        found.append("hostProcess")
    if pod.get("runAsUser") == 0:
        found.append("pod runAsUser: 0")
    pod_seccomp = (pod.get("seccompProfile") or {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"pod seccompProfile {pod_seccomp}")
    containers = [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]
    for container in containers:
        name, context = container["name"], container.get("securityContext") or {}
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{name}: capabilities do not drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities {capabilities['add']}")
        if context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            found.append(f"{name}: runAsNonRoot is not true (pod or container)")
        if context.get("runAsUser") == 0:
            found.append(f"{name}: runAsUser: 0")
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile is {seccomp} (pod or container)")
        if context.get("procMount", "Default") != "Default":
            found.append(f"{name}: procMount {context['procMount']}")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            found.append(f"{name}: hostPort")
    return found


def test_the_checker_finds_what_restricted_forbids() -> None:
    good = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    }  # fmt: skip
    assert restricted_violations(good) == []
    bad = json.loads(json.dumps(good))
    bad.update(hostNetwork=True, volumes=[{"name": "h", "hostPath": {"path": "/"}}])
    bad["securityContext"] = {"seccompProfile": {"type": "Unconfined"}}
    bad["containers"][0]["securityContext"] = {
        "privileged": True,
        "capabilities": {"add": ["SYS_ADMIN"]},
    }
    assert len(restricted_violations(bad)) == 9, restricted_violations(bad)


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each pod template, as its controller makes pods of it."""
    for doc in docs:
        if doc["kind"] == "StatefulSet":  # its pods get a volume per claim template
            template = json.loads(json.dumps(doc["spec"]["template"]))
            template["spec"].setdefault("volumes", []).extend(
                {"name": claim["metadata"]["name"],
                 "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
                for claim in doc["spec"].get("volumeClaimTemplates") or []
            )  # fmt: skip
            yield f"StatefulSet/{doc['metadata']['name']}", template
        elif doc["kind"] in ("Deployment", "DaemonSet", "ReplicaSet", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            job = doc["spec"]["jobTemplate"]["spec"]
            yield f"CronJob/{doc['metadata']['name']}", job["template"]
        elif doc["kind"] == "Pod":
            yield f"Pod/{doc['metadata']['name']}", doc


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def renderings() -> dict[str, list[dict[str, Any]]]:
    """Every kustomization and every chart variant, rendered by the real tools."""
    kubectl, helm = k8s_bin_dir() / "kubectl", helm_bin()
    found = {}
    for folder in KUSTOMIZATIONS:
        done = subprocess.run([str(kubectl), "kustomize", str(ROOT / folder)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        found[folder] = docs_of(done.stdout)
    for label, values in CHART_VALUES.items():
        args = [str(helm), "template", "factoryos", str(ROOT / "helm/factoryos")]
        for value in values:
            args += ["--set", value]
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        found[f"chart:{label}"] = docs_of(done.stdout)
    return found


def test_every_pod_passes_the_restricted_profile(
    renderings: dict[str, list[dict[str, Any]]],
) -> None:
    checked, failures = 0, []
    for source, docs in renderings.items():
        for name, template in pod_templates(docs):
            checked += 1
            failures += [f"{source} {name}: {v}" for v in restricted_violations(template["spec"])]
    assert not failures, "\n".join(failures)
    assert checked >= 14  # operator and dashboard everywhere, voice and CXDB where on


def test_our_containers_have_read_only_roots_and_a_writable_tmp_and_home(
    renderings: dict[str, list[dict[str, Any]]],
) -> None:
    for source, docs in renderings.items():
        for name, template in pod_templates(docs):
            spec = template["spec"]
            scratch = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
            for container in spec["containers"]:
                if container["name"] not in OURS:
                    continue
                where = f"{source} {name}/{container['name']}"
                assert container["securityContext"].get("readOnlyRootFilesystem") is True, where
                mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
                assert mounts.get("/tmp") in scratch, f"{where}: no emptyDir at /tmp"
                env = {e["name"]: e.get("value") for e in container.get("env") or []}
                assert env.get("HOME") == "/tmp", f"{where}: HOME is not writable"


def namespaces(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "Namespace"]


def test_the_namespace_enforces_restricted(renderings: dict[str, list[dict[str, Any]]]) -> None:
    expected = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", "restricted"), ("-version", "latest"))
    }
    for source in ("manifests", "chart:default", "chart:other-namespace"):
        (namespace,) = namespaces(renderings[source])
        labels = namespace["metadata"]["labels"]
        assert {k: labels.get(k) for k in expected} == expected, source
    assert namespaces(renderings["chart:other-namespace"])[0]["metadata"]["name"] == "factory"
    helm = helm_bin()
    off = subprocess.run(
        [str(helm), "template", "factoryos", str(ROOT / "helm/factoryos"),
         "--set", "namespace.podSecurity=", "--show-only", "templates/namespace.yaml"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "pod-security" not in off.stdout


def voice_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "factoryos-voice"
    ]
    spec: dict[str, Any] = found["spec"]["template"]["spec"]
    return spec


def test_the_cpu_voice_service_is_the_same_in_both_and_asks_for_no_gpu(
    renderings: dict[str, list[dict[str, Any]]],
) -> None:
    plain = voice_pod(renderings["manifests/voice-cpu"])
    chart = voice_pod(renderings["chart:voice-cpu"])
    for spec in (plain, chart):
        (container,) = spec["containers"]
        assert container["image"] == "factoryos-voice:cpu"
        assert container["imagePullPolicy"] == "IfNotPresent"
        assert "nodeSelector" not in spec and "tolerations" not in spec
        assert not [r for r in container["resources"].get("limits", {}) if "gpu" in r]
    for key in ("securityContext", "volumes", "automountServiceAccountToken"):
        assert plain[key] == chart[key], key
    ours, theirs = plain["containers"][0], chart["containers"][0]
    for key in ("securityContext", "volumeMounts", "ports", "readinessProbe", "resources"):
        assert ours[key] == theirs[key], key
    assert [e["name"] for e in ours["env"]] == [e["name"] for e in theirs["env"]]
    gpu = voice_pod(renderings["chart:voice-gpu"])
    assert gpu["containers"][0]["image"] == "factoryos-voice:gpu"
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert voice_pod(renderings["manifests/voice"])["nodeSelector"] == gpu["nodeSelector"]


def test_the_api_server_admits_every_pod_in_the_restricted_namespace(
    renderings: dict[str, list[dict[str, Any]]], k8s_bins: Path, cluster: TestCluster
) -> None:
    kubeconfig = cluster.kubeconfig
    kubectl_at(k8s_bins, kubeconfig, "apply", "-f", str(ROOT / "manifests/namespace.yaml"))
    pods: list[dict[str, Any]] = []
    for source, docs in renderings.items():
        for index, (_, template) in enumerate(pod_templates(docs)):
            spec = {k: v for k, v in template["spec"].items() if k != "serviceAccountName"}
            name = f"{source.replace(':', '-').replace('/', '-')}-{index}".lower()
            pods.append({"apiVersion": "v1", "kind": "Pod", "spec": spec,
                         "metadata": {"name": name, "namespace": SYSTEM}})  # fmt: skip
    stream = "\n---\n".join(yaml.safe_dump(p) for p in pods)
    done = kubectl_at(k8s_bins, kubeconfig, "create", "--dry-run=server", "-f", "-",
                      stdin=stream, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("created (server dry run)") == len(pods)
    assert "PodSecurity" not in done.stderr
    # And the namespace does refuse what breaks the profile.
    root = {**pods[0], "metadata": {"name": "as-root", "namespace": SYSTEM}}
    root["spec"] = {**root["spec"], "securityContext": {"runAsUser": 0}}
    refused = kubectl_at(k8s_bins, kubeconfig, "create", "--dry-run=server", "-f", "-",
                         stdin=yaml.safe_dump(root), check=False)  # fmt: skip
    assert refused.returncode != 0 and 'violates PodSecurity "restricted:latest"' in refused.stderr
