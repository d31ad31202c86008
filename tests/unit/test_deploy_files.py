"""The cluster install files point at things that exist and parse as what they claim."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["manifests", "crds"])
def test_kustomization_resources_exist_and_parse(folder: str) -> None:
    base = ROOT / folder
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    for resource in kustomization["resources"]:
        target = (base / resource).resolve()
        assert target.exists(), f"{folder}/kustomization.yaml: {resource} does not exist"
        files = [target / "kustomization.yaml"] if target.is_dir() else [target]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                assert doc and "kind" in doc and "apiVersion" in doc


def test_the_manifests_install_both_crds() -> None:
    crds = yaml.safe_load((ROOT / "crds" / "kustomization.yaml").read_text())["resources"]
    names = {yaml.safe_load((ROOT / "crds" / f).read_text())["metadata"]["name"] for f in crds}
    assert names == {"products.factoryos.dev", "runs.factoryos.dev"}


def test_the_helm_chart_carries_the_same_crds() -> None:
    for crd in (ROOT / "crds").glob("*.yaml"):
        if crd.name == "kustomization.yaml":
            continue
        assert (ROOT / "helm/factoryos/crds" / crd.name).read_text() == crd.read_text()
    chart = yaml.safe_load((ROOT / "helm/factoryos/Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "factoryos"


def test_the_runner_image_copies_only_paths_that_exist() -> None:
    dockerfile = (ROOT / "runner-image" / "Dockerfile").read_text()
    sources = [
        src
        for line in dockerfile.splitlines()
        if (m := re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip()))
        for src in m.group(1).split()
    ]
    assert sources, "expected COPY lines"
    for src in sources:
        assert (ROOT / src).exists(), f"runner-image/Dockerfile copies missing {src}"
    assert "tools/go/go.mod" in sources, "Kilroy must be built from the pinned tools module"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_the_voice_images_are_multi_stage_non_root_and_copy_what_exists(name: str) -> None:
    dockerfile = (ROOT / "voice-image" / name).read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert len(stages) == 2, "a build stage and a runtime stage"
    if name.endswith(".gpu"):
        assert all("nvidia/cuda" in s and "cudnn" in s for s in stages)
    final = dockerfile.split("\nFROM ")[-1]
    assert "USER 10001" in final and "pip install" not in final
    assert '"factoryos.voice"' in final and "HF_HUB_OFFLINE=1" in final
    for line in dockerfile.splitlines():
        m = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        for src in m.group(1).split() if m else []:
            assert (ROOT / src).exists(), f"voice-image/{name} copies missing {src}"
    assert '".[voice]"' in dockerfile


def test_the_namespace_enforces_pod_security_restricted() -> None:
    namespace = yaml.safe_load((ROOT / "manifests" / "namespace.yaml").read_text())
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"


@pytest.mark.parametrize(
    "args",
    [["--with", "docker"], ["--bogus"], ["--context"], ["--timeout", "soon"],
     ["--voice", "tpu"], ["--namespace", "Not_A_Name", "--with", "helm"],
     ["--namespace", "elsewhere"]],  # kustomize installs into factoryos-system only
)  # fmt: skip
def test_deploy_refuses_bad_arguments_in_one_line_with_exit_2(args: list[str]) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "tools" / "cluster" / "deploy.sh"), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("deploy: ")
    assert done.stdout == ""


#: Plain scalars that YAML 1.1 readers (go-yaml in `kubectl apply -f` and Helm) take for
#: booleans while PyYAML keeps them strings: `n` as a key or a `required` item comes out
#: as false. (kustomize's own reader is YAML 1.2, so `kubectl apply -k` was not hit.)
YAML11_ONLY_BOOLEANS = {"y", "Y", "n", "N"}


def plain_yaml11_booleans(text: str) -> list[str]:
    found, nodes = [], [node for node in yaml.compose_all(text) if node is not None]
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.style is None and node.value in YAML11_ONLY_BOOLEANS:
                found.append(f"line {node.start_mark.line + 1}: {node.value}")
        elif isinstance(node, yaml.SequenceNode):
            nodes += node.value
        elif isinstance(node, yaml.MappingNode):
            nodes += [part for pair in node.value for part in pair]
    return found


@pytest.mark.parametrize("folder", ["crds", "helm/factoryos/crds", "manifests"])
def test_no_plain_scalar_reads_as_a_boolean_in_yaml_1_1(folder: str) -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for path in sorted((ROOT / folder).rglob("*.yaml"))
        if (hits := plain_yaml11_booleans(path.read_text()))
    }
    assert not found, found
