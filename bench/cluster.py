"""Benchmark: the operator on a real node: start latency, split by who spends it; 20 Runs at once.

Needs the single-node cluster with Factory OS deployed (``make cluster-up images
deploy``; ``make bench-cluster`` runs this). Everything is timed by this
process's own clock as it watches the API server (the node and the pods share
this host's clock), except Kilroy's first event, whose time the runner stamped.

Part 1, one Run at a time (``--rounds``, median and spread): Run created → Job
created (the operator's share: it sees the Run, reconciles, creates the claim,
the progress ConfigMap and the Job) → pod created (the job controller) → pod
bound to the node (the scheduler) → pod Running (the kubelet, containerd, the
image) → Kilroy's first event (the runner's Python start, the clone, Kilroy's
start). Goal: the operator's share under 1 s.

Part 2, ``--concurrent`` Runs created at once: the operator's CPU time and peak
memory over the window (from /proc of its process on this host), API requests
per Run (``apiserver_request_total`` from the API server's metrics, minus an
idle window of the same length), and the time until every Run's build pod runs.

    .venv/bin/python bench/cluster.py [--rounds 5] [--concurrent 20] [--context factoryos-local]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "factoryos-system"
PRODUCT = {
    "apiVersion": "factoryos.dev/v1alpha1",
    "kind": "Product",
    "metadata": {"name": "smoke"},
    "spec": {
        "repo": {"path": "/opt/examples/smoke"},
        "engine": {"agentProfile": "test_shim",
                   "agentExecutable": "/opt/examples/agents/scripted-agent"},
    },
}  # fmt: skip


def run_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "factoryos.dev/v1alpha1",
        "kind": "Run",
        "metadata": {"name": name},
        "spec": {"productRef": {"name": "smoke"}, "goal": "switch on the health endpoint"},
    }


class Watcher:
    """Records, by this process's clock, when each Job and pod of a namespace first showed
    each milestone."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.core, self.batch, self.namespace = (
            client.CoreV1Api(api),
            client.BatchV1Api(api),
            namespace,
        )
        self.seen: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        follows = [
            (self.batch.list_namespaced_job, self._job),
            (self.core.list_namespaced_pod, self._pod),
        ]
        self._threads = [
            threading.Thread(target=self._follow, args=f, daemon=True) for f in follows
        ]
        for thread in self._threads:
            thread.start()

    def _follow(self, lister: Any, record: Any) -> None:
        stream = watch.Watch()
        while not self._stop.is_set():
            for event in stream.stream(lister, self.namespace, timeout_seconds=5):
                record(event["object"], time.monotonic())
                if self._stop.is_set():
                    break

    def _mark(self, key: tuple[str, str], at: float) -> None:
        self.seen.setdefault(key, at)

    def _job(self, job: Any, at: float) -> None:
        self._mark(("job", job.metadata.labels.get("factoryos.dev/run", "")), at)

    def _pod(self, pod: Any, at: float) -> None:
        if (pod.metadata.labels or {}).get("factoryos.dev/workload-kind") != "build":
            return
        run = pod.metadata.labels.get("factoryos.dev/run", "")
        self._mark(("pod", run), at)
        if pod.spec.node_name:
            self._mark(("bound", run), at)
        if pod.status.phase == "Running":
            self._mark(("running", run), at)

    def stop(self) -> None:
        self._stop.set()


def first_kilroy_event(
    dashboard: str, token: str, namespace: str, run: str, timeout: float = 120
) -> datetime:
    """The time stamped on the run's first stage event (Kilroy's own progress)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{dashboard}api/runs/{namespace}/{run}/events",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        if answer.status_code == 200:
            for event in answer.json()["events"]:
                if event["type"] == "dev.factoryos.stage.started":
                    return datetime.fromisoformat(event["time"])
        time.sleep(0.1)
    raise TimeoutError(f"no stage event of {run} within {timeout:g}s")


def kubectl_path() -> Path:
    return Path(subprocess.run(["bash", "tools/k8s/build.sh"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()) / "kubectl"  # fmt: skip


def kubectl(context: str, *args: str) -> str:
    return subprocess.run([str(kubectl_path()), "--context", context, *args],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def port_forward(context: str) -> tuple[subprocess.Popen[str], str]:
    """The dashboard's Service forwarded to a free loopback port (the host's routes blackhole
    the Service range, as they must: only kube-proxy's pods side translates it)."""
    forward = subprocess.Popen(
        [str(kubectl_path()), "--context", context, "-n", SYSTEM, "port-forward",
         "svc/factoryos-dashboard", ":8400", "--address", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert forward.stdout is not None
    line = forward.stdout.readline()
    found = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not found:
        forward.kill()
        raise SystemExit(f"kubectl port-forward to the dashboard failed: {line!r}")
    return forward, f"http://127.0.0.1:{found.group(1)}/"


def latency(api: client.ApiClient, context: str, rounds: int, dashboard: str, token: str) -> None:
    objects = client.CustomObjectsApi(api)
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
    objects.create_namespaced_custom_object("factoryos.dev", "v1alpha1", ns, "products", PRODUCT)
    watcher = Watcher(api, ns)
    steps = ("operator", "job controller", "scheduler", "kubelet + container start",
             "runner + Kilroy start", "total")  # fmt: skip
    splits: dict[str, list[float]] = {k: [] for k in steps}
    try:
        for index in range(rounds):
            name = f"lat-{index}"
            created_wall, created = time.time(), time.monotonic()
            objects.create_namespaced_custom_object(
                "factoryos.dev", "v1alpha1", ns, "runs", run_body(name)
            )
            first = first_kilroy_event(dashboard, token, ns, name).timestamp()
            first_mono = created + (first - created_wall)
            seen = watcher.seen
            marks = [created, seen[("job", name)], seen[("pod", name)], seen[("bound", name)],
                     seen[("running", name)], first_mono]  # fmt: skip
            for key, (a, b) in zip(list(splits)[:-1], itertools.pairwise(marks), strict=True):
                splits[key].append(b - a)
            splits["total"].append(first_mono - created)
            objects.delete_namespaced_custom_object("factoryos.dev", "v1alpha1", ns, "runs", name)
    finally:
        watcher.stop()
        client.CoreV1Api(api).delete_namespace(ns)
    print(
        f"\nPart 1: Run created → Kilroy's first event, {rounds} rounds (median, min-max), seconds"
    )
    for key, values in splits.items():
        print(
            f"  {key:28s} {statistics.median(values):6.2f}  ({min(values):.2f}-{max(values):.2f})"
        )
    total = statistics.median(splits["total"])
    print(
        f"  the operator's share: {statistics.median(splits['operator']) / total:.0%} of the total"
    )


def operator_process() -> int:
    found = subprocess.run(
        ["pgrep", "-f", "python -m factoryos.controller"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(found.stdout.split()[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def requests(context: str) -> Counter[str]:
    """The apiserver's request counters so far, by verb and resource."""
    found: Counter[str] = Counter()
    for line in kubectl(context, "get", "--raw", "/metrics").splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            key = f"{labels.get('verb', '?')} {labels.get('resource', '?')}"
            if labels.get("subresource"):
                key += f"/{labels['subresource']}"
            found[key] += int(float(line.rsplit(" ", 1)[1]))
    return found


def concurrent(api: client.ApiClient, context: str, count: int) -> None:
    objects = client.CustomObjectsApi(api)
    pid = operator_process()
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
    product = {**PRODUCT, "spec": {**PRODUCT["spec"], "concurrency": count}}  # all at once
    objects.create_namespaced_custom_object("factoryos.dev", "v1alpha1", ns, "products", product)
    watcher = Watcher(api, ns)
    try:
        before, started = requests(context), time.monotonic()
        cpu_before, peak = cpu_seconds(pid), rss_mib(pid)
        for index in range(count):
            objects.create_namespaced_custom_object(
                "factoryos.dev", "v1alpha1", ns, "runs", run_body(f"c-{index}")
            )
        names = [f"c-{index}" for index in range(count)]
        while not all(("running", n) in watcher.seen for n in names):
            peak = max(peak, rss_mib(pid))
            time.sleep(0.2)
            if time.monotonic() - started > 900:
                raise TimeoutError("not every Run's pod ran within 900 s")
        all_running = max(watcher.seen[("running", n)] for n in names) - started
        while not all(_finished(objects, ns, n) for n in names):
            peak = max(peak, rss_mib(pid))
            time.sleep(1)
        window = time.monotonic() - started
        busy, cpu = requests(context) - before, cpu_seconds(pid) - cpu_before
        idle_before, quiet = requests(context), min(window, 60)
        time.sleep(quiet)
        idle = requests(context) - idle_before
        scale = window / quiet  # the idle rate over as long as the window
        per_run = {k: (busy[k] - idle[k] * scale) / count for k in busy}
    finally:
        watcher.stop()
        client.CoreV1Api(api).delete_namespace(ns)
    print(f"\nPart 2: {count} Runs created at once")
    print(f"  every build pod Running after     {all_running:6.1f} s")
    print(f"  all finished after                {window:6.1f} s")
    print(f"  operator CPU                      {cpu:6.1f} s ({cpu / window:.0%} of one core)")
    print(f"  operator memory (RSS, peak)       {peak:6.0f} MiB")
    print(
        f"  API requests per Run              {sum(per_run.values()):6.0f} "
        f"({busy.total()} in the window, {idle.total() * scale:.0f} in as long idle)"
    )
    print("  of which (all clients: operator, controllers, kubelet, scheduler)")
    for key, value in sorted(per_run.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {key:<34}{value:6.1f}")


def _finished(objects: client.CustomObjectsApi, ns: str, name: str) -> bool:
    run: Any = objects.get_namespaced_custom_object("factoryos.dev", "v1alpha1", ns, "runs", name)
    return (run.get("status") or {}).get("phase") in {"Succeeded", "Failed"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", default="factoryos-local")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    api = config.new_client_from_config(context=args.context)
    secret = yaml.safe_load(
        kubectl(args.context, "-n", SYSTEM, "get", "secret", "factoryos-dashboard", "-o", "yaml")
    )
    token = base64.b64decode(secret["data"]["token"]).decode()
    forward, dashboard = port_forward(args.context)
    try:
        latency(api, args.context, args.rounds, dashboard, token)
        concurrent(api, args.context, args.concurrent)
    finally:
        forward.kill()


if __name__ == "__main__":
    main()
