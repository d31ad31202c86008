"""The cluster install files point at things that exist and parse as what they claim."""

from __future__ import annotations

import re
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
