"""The generated CRDs on a real API server, driven by a real kubectl.

kubectl and kube-apiserver are built from the same pinned Kubernetes module.
"""

from __future__ import annotations

import json
import subprocess

from kube_support import ROOT, Kubectl
from kubernetes import client

from factoryos.models import ConditionStatus, ConditionType, Run, RunPhase
from factoryos.models.meta import Condition
from factoryos.store.apiserver import KubeStore

EXAMPLE = ROOT / "examples" / "resources" / "smoke.yaml"


def test_kubectl_applies_the_examples_and_gets_them_with_printer_columns(
    kubectl: Kubectl,
) -> None:
    applied = kubectl("apply", "-f", str(EXAMPLE))
    again = kubectl("apply", "-f", str(EXAMPLE))
    listed = kubectl("get", "products,runs")

    assert "product.factoryos.dev/smoke created" in applied.stdout
    assert "run.factoryos.dev/smoke-add-health created" in applied.stdout
    assert "unchanged" in again.stdout
    header_lines = [line for line in listed.stdout.splitlines() if line.startswith("NAME")]
    assert any("PHASE" in h and "PRODUCT" in h and "LOWER BOUND" in h for h in header_lines)
    assert "smoke-add-health" in listed.stdout
    short = kubectl("get", "fp,fr", "-o", "name").stdout.split()
    assert sorted(short) == ["product.factoryos.dev/smoke", "run.factoryos.dev/smoke-add-health"]


def test_the_api_server_fills_in_defaults(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLE))
    run = json.loads(kubectl("get", "run", "smoke-add-health", "-o", "json").stdout)
    assert run["spec"]["backoffLimit"] == 2
    assert run["spec"]["selection"]["strategy"] == "sequential-halving"


def test_invalid_objects_are_refused_with_the_schema_message(kubectl: Kubectl) -> None:
    bad_k = EXAMPLE.read_text().replace(
        "candidates: 3\n  concurrency", "candidates: 0\n  concurrency"
    )
    both = EXAMPLE.read_text().replace(
        "path: /srv/products/smoke", "path: /srv/products/smoke\n    url: https://x/y.git"
    )
    bad_name = EXAMPLE.read_text().replace("name: smoke-add-health", "name: Smoke_Add")

    k = kubectl("apply", "-f", "-", stdin=bad_k, check=False)
    one_of = kubectl("apply", "-f", "-", stdin=both, check=False)
    name = kubectl("apply", "-f", "-", stdin=bad_name, check=False)

    assert k.returncode != 0 and "spec.candidates" in k.stderr
    assert "greater than or equal to 1" in k.stderr
    assert one_of.returncode != 0 and "set exactly one of url or path" in one_of.stderr
    assert name.returncode != 0 and "Smoke_Add" in name.stderr


def test_status_is_a_subresource_and_kubectl_wait_sees_conditions(
    kubectl: Kubectl, api: client.ApiClient, namespace: str
) -> None:
    kubectl("apply", "-f", str(EXAMPLE))
    store = KubeStore(api)
    run = store.get(Run, "smoke-add-health", namespace)
    run.status.phase = RunPhase.SUCCEEDED
    run.status.conditions = [
        Condition(
            type=ConditionType.SUCCEEDED,
            status=ConditionStatus.TRUE,
            reason="Succeeded",
            message="done",
            last_transition_time=run.metadata.creation_timestamp,  # type: ignore[arg-type]
            observed_generation=run.metadata.generation,
        )
    ]
    spec_change = run.model_copy(deep=True)
    store.update_status(run)

    waited = kubectl("wait", "--for=condition=Succeeded", "--timeout=20s", "run/smoke-add-health")
    assert "condition met" in waited.stdout
    # A spec write does not touch status, and a status write does not touch spec.
    spec_change.spec.goal = "changed"
    spec_change.metadata.resource_version = store.get(
        Run, "smoke-add-health", namespace
    ).metadata.resource_version
    updated = store.update(spec_change)
    assert updated.status.phase is RunPhase.SUCCEEDED and updated.spec.goal == "changed"
    assert updated.metadata.generation == 2
    phase = kubectl("get", "run", "smoke-add-health", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Succeeded"


def _product(engine: str) -> str:
    return (
        "apiVersion: factoryos.dev/v1alpha1\nkind: Product\nmetadata: {name: agent-check}\n"
        f"spec:\n  repo: {{url: 'https://example.com/a.git'}}\n  engine: {engine}\n"
    )


def test_the_api_server_refuses_unknown_agents_with_the_allowed_values(kubectl: Kubectl) -> None:
    def dry_run(engine: str) -> subprocess.CompletedProcess[str]:
        return kubectl("apply", "--dry-run=server", "-f", "-", check=False, stdin=_product(engine))

    provider = dry_run("{provider: mistral}")
    model = dry_run("{provider: anthropic, model: gpt-5.4}")
    per_class = dry_run("{models: [{nodeClass: review, model: gpt-9}]}")
    url = dry_run("{baseUrl: 'ftp://gw/v1'}")
    gateway = dry_run("{model: llama-3-70b, baseUrl: 'http://gw:8000/v1'}")

    assert provider.returncode != 0
    assert '"openai", "anthropic", "google"' in provider.stderr
    for refused in (model, per_class):
        assert refused.returncode != 0
        assert "anthropic: claude-sonnet-4.5, claude-opus-4.5" in refused.stderr
    assert url.returncode != 0 and "spec.engine.baseUrl" in url.stderr
    assert gateway.returncode == 0, gateway.stderr
