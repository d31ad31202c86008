"""The smoke product on a real cluster (kind): the operator runs it in a Job to success.

Needs a Docker engine (skipped with the reason otherwise, see conftest.py). The
session fixture brings the cluster up the way a user does: `make kind-up images
kind-load deploy`. The smoke product and the scripted agent are baked into the
image (runner-image/Dockerfile), so the run needs no network and no LLM.
"""

from __future__ import annotations

import json
import uuid

from kind_support import kubectl


def test_the_smoke_product_succeeds_on_kind(kind_cluster: str) -> None:
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", ns)
    kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        stdin="""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {name: smoke}
spec:
  repo: {path: /opt/examples/smoke}
  engine: {agentProfile: test_shim, agentExecutable: /opt/examples/agents/scripted-agent}
---
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {name: smoke-e2e}
spec: {productRef: {name: smoke}, goal: switch on the health endpoint}
""",
    )
    kubectl("wait", "-n", ns, "--for=condition=Succeeded", "--timeout=900s", "run/smoke-e2e")

    run = json.loads(kubectl("get", "-n", ns, "run", "smoke-e2e", "-o", "json"))
    job = json.loads(kubectl("get", "-n", ns, "job", "smoke-e2e-c0-1", "-o", "json"))
    assert run["status"]["phase"] == "Succeeded"
    assert any(
        c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"]
    )
    kubectl("delete", "namespace", ns, "--wait=false")
