"""What the e2e tests share: which cluster they run on, kubectl, sf, the dashboard.

Two tiers run the same tests. ``node`` is the single-node Kubernetes this
project builds from its pinned modules on the host (`make cluster-up`, root
only); ``kind`` is a kind cluster for machines with a Docker engine. ``tier``
picks the first this machine can run, or says why neither can (the tests are
then skipped with that reason). ``FACTORYOS_E2E_TIER=node|kind`` forces one.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "factoryos-system"
NODE_CONTEXT = "factoryos-local"
KIND_CONTEXT = "kind-factoryos"


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )


@cache
def node_unavailable() -> str | None:
    """Why the single-node cluster cannot run here, or None."""
    done = _run("bash", "tools/cluster/up.sh", "--check")
    return None if done.returncode == 0 else (done.stderr.strip() or done.stdout.strip())


@cache
def kind_unavailable() -> str | None:
    """Why kind cannot run here (no Docker engine), or None."""
    if shutil.which("docker") is None:
        return "no Docker engine for kind: the docker CLI is not installed"
    try:
        probe = _run("docker", "info", "--format", "{{.ServerVersion}}", timeout=15)
    except subprocess.TimeoutExpired:
        return "no Docker engine for kind: `docker info` did not answer within 15 s"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"no Docker engine for kind: `docker info` failed: {detail}"
    return None


@cache
def tier() -> tuple[str | None, str]:
    """The tier to run on and its context, or (None, why neither can run)."""
    forced = os.environ.get("FACTORYOS_E2E_TIER", "")
    if forced != "kind" and node_unavailable() is None:
        return "node", NODE_CONTEXT
    if forced != "node" and kind_unavailable() is None:
        return "kind", KIND_CONTEXT
    reasons = [r for r in (node_unavailable(), kind_unavailable()) if r]
    return None, "; ".join(reasons)


def kubectl_binary() -> str:
    """The pinned kubectl (tools/k8s/build.sh), unless KUBECTL names another."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    built = _run("bash", "tools/k8s/build.sh", timeout=3600).stdout.strip()
    return str(Path(built) / "kubectl")


@dataclass(frozen=True)
class Cluster:
    """A cluster the e2e tests use, as a user does: kubectl and sf with a context."""

    tier: str
    context: str
    kubectl_path: str

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 600
    ) -> str:
        done = subprocess.run(
            [self.kubectl_path, "--context", self.context, *args],
            capture_output=True, text=True, input=stdin, timeout=timeout, check=False,
        )  # fmt: skip
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def sf(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``sf --context CONTEXT ARGS`` (``sf ARGS`` when ARGS name the context themselves)."""
        context = [] if "--context" in args else ["--context", self.context]
        return subprocess.run(
            [sys.executable, "-m", "factoryos.cli.app", *context, *args],
            capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, **(env or {})},
        )  # fmt: skip

    def namespace(self, prefix: str) -> str:
        """A new namespace enforcing Pod Security "restricted", as Factory OS's own does."""
        ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.kubectl("create", "namespace", ns)
        self.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted",
                     "pod-security.kubernetes.io/enforce-version=latest")  # fmt: skip
        return ns

    def wait_for(self, what: str, check: Any, timeout: float = 300, interval: float = 1.0) -> Any:
        """Poll ``check()`` until it returns something truthy, else fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(interval)

    def dashboard_token(self) -> str:
        secret = self.json("-n", SYSTEM, "get", "secret", "factoryos-dashboard")
        return base64.b64decode(secret["data"]["token"]).decode()

    @contextmanager
    def port_forward(self, service: str, port: int, namespace: str = SYSTEM) -> Iterator[str]:
        """``kubectl port-forward svc/SERVICE``, as the README tells users; yields the URL."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            local = sock.getsockname()[1]
        forward = subprocess.Popen(
            [self.kubectl_path, "--context", self.context, "-n", namespace, "port-forward",
             f"svc/{service}", f"{local}:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            self.wait_for(
                f"port-forward to {service}", lambda: _connects(local), timeout=30, interval=0.2
            )
            yield f"http://127.0.0.1:{local}/"
        finally:
            forward.terminate()
            forward.wait(timeout=30)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def smoke_resources(
    run: str, product: str = "smoke", goal: str = "switch on the health endpoint"
) -> str:
    """The smoke product (baked into the runner image with the scripted agent) and a Run."""
    return f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: {product}}}
spec:
  repo: {{path: /opt/examples/smoke}}
  engine: {{agentProfile: test_shim, agentExecutable: /opt/examples/agents/scripted-agent}}
---
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: {run}}}
spec: {{productRef: {{name: {product}}}, goal: {goal}}}
"""


def pause_resources(run: str, product: str = "pause") -> str:
    """The selftest product (baked into the runner image) with its long-stage pipeline."""
    return f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: {product}}}
spec:
  repo: {{path: /opt/examples/selftest}}
  pipeline: pause.dot
  engine: {{agentProfile: test_shim, agentExecutable: /opt/examples/agents/scripted-agent}}
---
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: {run}}}
spec: {{productRef: {{name: {product}}}, goal: pause in b}}
"""


def start_paused(cluster: Cluster, namespace: str, run: str) -> None:
    """Apply the pause product and ``run``, and wait until its long stage b runs."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=pause_resources(run))
    cluster.wait_for(
        "stage b to run",
        lambda: stage_status(cluster, namespace, run, "b") == "Running",
        timeout=300,
    )


def pod_processes(uid: str) -> list[str]:
    """Processes on this host in the pod's cgroup (node tier: pods run here). Other tests'
    pods run the same pipeline at the same time, so a command line would not tell them apart."""
    marks = (f"pod{uid}", f"pod{uid.replace('-', '_')}")
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cgroup = (proc / "cgroup").read_text()
            if any(mark in cgroup for mark in marks):
                found.append(f"{proc.name} {(proc / 'cmdline').read_text().replace(chr(0), ' ')}")
        except OSError:  # not a process, or it ended while we looked
            continue
    return found


def stage_status(cluster: Cluster, namespace: str, run: str, stage: str) -> str | None:
    """The status of ``stage`` in the Run's stages table (None until it is there)."""
    found = cluster.json("get", "-n", namespace, "run", run)
    for row in found.get("status", {}).get("stages") or []:
        if row.get("name") == stage:
            return str(row.get("status"))
    return None


def run_file(
    cluster: Cluster, url: str, namespace: str, run: str, branch: str, path: str, dest: Path
) -> str:
    """A file of a run's branch in the dashboard's git service (behind ``url``), read with the
    run's own token as the runners use it."""
    secret = cluster.json("-n", SYSTEM, "get", "secret", "factoryos-dashboard")
    key = base64.b64decode(secret["data"]["ingest-key"]).decode()
    from factoryos.events import run_token

    header = f"http.extraHeader=Authorization: Bearer {run_token(key, namespace, run)}"
    subprocess.run(
        ["git", "-c", header, "clone", "-q", "--branch", branch,
         f"{url}git/runs/{namespace}/{run}.git", str(dest)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return (dest / path).read_text()
