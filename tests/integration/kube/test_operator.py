"""The kopf operator against a real API server: Runs become Jobs, Jobs drive Run status.

No kubelet runs here, so Jobs never get pods: the tests play the job
controller's part by writing Job status through the API (as it would), and
check what the operator does about it. The operator runs embedded in a thread,
watching only the test's namespace, as the least-privilege identity the
manifests' ClusterRole is bound to (so a missing permission fails these tests).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf
import pytest
from kube_support import ROOT, Kubectl, TestCluster
from kubernetes import client, config

from factoryos.events import EventType, make_event
from factoryos.models import DesiredState, Product, Run, RunPhase, parse_as
from factoryos.runner.configmap import ConfigMapSink
from factoryos.store import modify
from factoryos.store.apiserver import KubeStore
from factoryos.telemetry import TRACEPARENT_ANNOTATION
from factoryos.workloads import (
    EVALUATION_KEY,
    CandidateReport,
    EvaluationReport,
    Outcome,
    ProgressReporter,
    progress_name,
)

TIMEOUT = 30.0


class EmbeddedOperator:
    """``kopf.operator`` in a thread, restartable."""

    def __init__(self, namespace: str, peering: str | None = None, priority: int = 0) -> None:
        self.namespace = namespace
        self._peering, self._priority = peering, priority
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        import factoryos.controller.handlers  # noqa: F401  (registers the handlers)

        self._stop = threading.Event()
        ready = threading.Event()

        def main() -> None:
            asyncio.run(
                kopf.operator(
                    registry=kopf.get_default_registry(),
                    namespaces=[self.namespace],
                    standalone=self._peering is None,
                    peering_name=self._peering,
                    priority=self._priority,
                    stop_flag=self._stop,
                    ready_flag=ready,
                )
            )

        self._thread = threading.Thread(target=main, name="kopf", daemon=True)
        self._thread.start()
        assert ready.wait(TIMEOUT), "the operator did not start"

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(TIMEOUT)
            self._thread = None


@pytest.fixture
def operator(
    operator_kubeconfig: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmbeddedOperator]:
    monkeypatch.setenv("KUBECONFIG", str(operator_kubeconfig))
    op = EmbeddedOperator(namespace)
    op.start()
    yield op
    op.stop()


def eventually(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def add_product(store: KubeStore, ns: str, name: str = "p", **spec: Any) -> None:
    store.create(
        parse_as(
            Product,
            {
                "metadata": {"name": name, "namespace": ns},
                "spec": {"repo": {"url": "https://example.invalid/p.git"}, **spec},
            },
        )
    )


def add_run(store: KubeStore, ns: str, name: str = "r", product: str = "p", **spec: Any) -> None:
    store.create(
        parse_as(
            Run,
            {
                "metadata": {"name": name, "namespace": ns},
                "spec": {"productRef": {"name": product}, "goal": "g", **spec},
            },
        )
    )


def add_secret(api: client.ApiClient, ns: str, **keys: str) -> None:
    client.CoreV1Api(api).create_namespaced_secret(
        ns, {"metadata": {"name": "factoryos-secrets"}, "stringData": keys}
    )


def jobs(batch: client.BatchV1Api, ns: str) -> list[client.V1Job]:
    return sorted(batch.list_namespaced_job(ns).items, key=lambda j: j.metadata.name)


def phase(store: KubeStore, ns: str, run: str, wanted: RunPhase) -> Callable[[], bool]:
    return lambda: store.get(Run, run, ns).status.phase is wanted


def finish_job(batch: client.BatchV1Api, ns: str, name: str, *, exit_code: int = 0) -> None:
    """Write the terminal status the job controller would (the API validates its shape)."""
    now = datetime.now(UTC).isoformat()
    started = {"startTime": now, "active": 1}
    batch.patch_namespaced_job_status(name, ns, {"status": started})
    if exit_code == 0:
        done = {
            "active": 0,
            "succeeded": 1,
            "completionTime": now,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"},
            ],
        }  # fmt: skip
    else:
        message = (
            f"Container runner for pod {ns}/{name}-x failed with exit code {exit_code} "
            "matching FailJob rule at index 0"
        )
        done = {
            "active": 0,
            "failed": 1,
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy",
                 "message": message},
                {"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                 "message": message},
            ],
        }  # fmt: skip
    batch.patch_namespaced_job_status(name, ns, {"status": done})


@pytest.mark.slow
def test_a_run_gets_one_job_per_candidate_with_the_expected_spec(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str,
    api: client.ApiClient,
) -> None:  # fmt: skip
    add_secret(api, namespace, OPENAI_API_KEY="not-a-real-key")
    add_product(store, namespace, engine={"passEnv": ["OPENAI_API_KEY"]})
    add_run(store, namespace, candidates=2, gpu={"voice": True}, backoffLimit=1,
            activeDeadlineSeconds=600)  # fmt: skip

    found = eventually(
        lambda: len(jobs(batch, namespace)) == 2 and jobs(batch, namespace), "2 Jobs"
    )

    assert [j.metadata.name for j in found] == ["r-c0-1", "r-c1-1"]
    run = store.get(Run, "r", namespace)
    for index, job in enumerate(found):
        assert job.metadata.labels["factoryos.dev/run"] == "r"
        assert job.metadata.labels["factoryos.dev/candidate"] == str(index)
        (owner,) = job.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "Run",
            "r",
            run.metadata.uid,
            True,
        )
        assert job.spec.backoff_limit == 1 and job.spec.active_deadline_seconds == 600
        pod = job.spec.template.spec
        assert pod.node_selector == {"factoryos.dev/gpu": "true"}
        assert pod.tolerations[0].key == "nvidia.com/gpu"
        (container,) = pod.containers
        assert container.resources.limits == {"nvidia.com/gpu": "1"}
        env = {e.name: e for e in container.env}
        spec = json.loads(env["FACTORYOS_WORKLOAD_SPEC"].value)
        assert spec["run_dir"] == f"/work/runs/{namespace}/r" and spec["candidate"] == index
        assert env["OPENAI_API_KEY"].value_from.secret_key_ref.name == "factoryos-secrets"
        assert pod.volumes[0].persistent_volume_claim.claim_name == "r-work"
    claim = client.CoreV1Api(api).read_namespaced_persistent_volume_claim("r-work", namespace)
    assert claim.metadata.owner_references[0].name == "r"
    eventually(phase(store, namespace, "r", RunPhase.BUILDING), "Building")


@pytest.mark.slow
def test_job_outcomes_drive_the_run_to_succeeded_or_failed(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str,
    kubectl: Kubectl,
) -> None:  # fmt: skip
    add_product(store, namespace, concurrency=2)
    add_run(store, namespace, "good")
    add_run(store, namespace, "bad")
    eventually(lambda: len(jobs(batch, namespace)) == 2, "2 Jobs")

    finish_job(batch, namespace, "good-c0-1")
    finish_job(batch, namespace, "bad-c0-1", exit_code=1)
    eventually(phase(store, namespace, "good", RunPhase.EVALUATING), "good Evaluating")
    eventually(
        lambda: any(j.metadata.name == "good-e1-1" for j in jobs(batch, namespace)),
        "the evaluation Job",
    )
    report = EvaluationReport(
        iteration=1, outcome=Outcome.UNGATED, message="c0 passed the screen",
        candidates=[CandidateReport(index=0, branch="factory/good/c0")], winner=0,
    )  # fmt: skip
    client.CoreV1Api(batch.api_client).patch_namespaced_config_map(
        progress_name("good-e1-1"), namespace,
        {"data": {EVALUATION_KEY: report.model_dump_json(by_alias=True)}},
    )  # fmt: skip
    finish_job(batch, namespace, "good-e1-1")

    eventually(phase(store, namespace, "good", RunPhase.SUCCEEDED), "good Succeeded")
    eventually(phase(store, namespace, "bad", RunPhase.FAILED), "bad Failed")
    waited = kubectl("wait", "--for=condition=Succeeded", "--timeout=20s", "run/good")
    assert "condition met" in waited.stdout
    bad = store.get(Run, "bad", namespace)
    stalled = next(c for c in bad.status.conditions if c.type == "Stalled")
    assert stalled.status.value == "True" and "exit code 1" in (bad.status.message or "")
    assert stalled.observed_generation == bad.metadata.generation
    events = kubectl("get", "events", "-o", "json")
    reasons = {
        (e["involvedObject"]["name"], e["reason"]) for e in json.loads(events.stdout)["items"]
    }
    assert ("good", "Succeeded") in reasons and ("bad", "Failed") in reasons


@pytest.mark.slow
def test_stop_suspends_the_jobs_and_resume_starts_the_next_attempt(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str
) -> None:
    add_product(store, namespace)
    add_run(store, namespace)
    eventually(lambda: len(jobs(batch, namespace)) == 1, "a Job")

    def desired(state: DesiredState) -> Callable[[Run], None]:
        def change(run: Run) -> None:
            run.spec.desired_state = state

        return change

    modify(store, Run, "r", namespace, desired(DesiredState.STOPPED))
    eventually(phase(store, namespace, "r", RunPhase.STOPPED), "Stopped")
    assert [j.spec.suspend for j in jobs(batch, namespace)] == [True]

    modify(store, Run, "r", namespace, desired(DesiredState.RUNNING))
    found = eventually(
        lambda: len(jobs(batch, namespace)) == 2 and jobs(batch, namespace), "resume"
    )
    assert [j.metadata.name for j in found] == ["r-c0-1", "r-c0-2"]
    assert found[1].spec.suspend in (None, False)
    eventually(phase(store, namespace, "r", RunPhase.BUILDING), "Building again")


def test_deleting_a_product_deletes_its_runs_through_finalizers(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str
) -> None:
    add_product(store, namespace)
    add_run(store, namespace, "one")
    add_run(store, namespace, "two")
    eventually(lambda: len(jobs(batch, namespace)) == 1, "the first run's Job")

    store.delete(Product, "p", namespace)

    eventually(lambda: store.list(Run, namespace) == [], "the runs to go")
    eventually(lambda: store.list(Product, namespace) == [], "the product to go")
    # No garbage collector runs here: Jobs stay, owned by their (deleted) Runs, and every
    # one of them was stopped before its Run let go. (Run "two" may have started one in
    # the moment its product was being deleted; it is stopped all the same.)
    left = jobs(batch, namespace)
    assert left and {j.metadata.owner_references[0].name for j in left} <= {"one", "two"}
    assert all(j.spec.suspend is True for j in left)


@pytest.mark.slow
def test_a_restarted_operator_converges_without_duplicate_jobs(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str
) -> None:
    add_product(store, namespace)
    add_run(store, namespace, candidates=2)
    eventually(lambda: len(jobs(batch, namespace)) == 2, "2 Jobs")

    operator.stop()
    finish_job(batch, namespace, "r-c0-1")
    operator.start()

    finish_job(batch, namespace, "r-c1-1")
    eventually(phase(store, namespace, "r", RunPhase.EVALUATING), "Evaluating")
    operator.stop()
    operator.start()
    eventually(lambda: len(jobs(batch, namespace)) == 3, "the evaluation Job")
    names = [j.metadata.name for j in jobs(batch, namespace)]
    assert names == ["r-c0-1", "r-c1-1", "r-e1-1"], "one of each, even across a restart"


@pytest.mark.slow
def test_a_run_of_an_unknown_product_stalls_until_it_exists(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str
) -> None:
    add_run(store, namespace, product="later")

    def stalled() -> bool:
        conditions = {c.type: c for c in store.get(Run, "r", namespace).status.conditions}
        stall = conditions.get("Stalled")
        return stall is not None and stall.reason == "ProductNotFound"

    eventually(stalled, "Stalled ProductNotFound")
    assert jobs(batch, namespace) == []

    add_product(store, namespace, "later")
    eventually(lambda: len(jobs(batch, namespace)) == 1, "the Job once the product exists")


@pytest.mark.slow
def test_runner_progress_reports_become_the_stages_table(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str,
    cluster: TestCluster,
) -> None:  # fmt: skip
    add_product(store, namespace)
    add_run(store, namespace)
    eventually(lambda: len(jobs(batch, namespace)) == 1, "a Job")

    # Play the runner in its pod: its own identity, the sink and reporter it uses.
    runner_user = f"system:serviceaccount:{namespace}:factoryos-runner"
    runner_api = config.new_client_from_config(
        config_file=str(cluster.user_kubeconfig(runner_user, ["system:serviceaccounts"]))
    )
    reporter = ProgressReporter(ConfigMapSink(namespace, "r-c0-1-progress", runner_api))
    source = "/products/p/runs/r"
    for seq, (kind, node, data) in enumerate(
        [(EventType.STAGE_STARTED, "build", {"attempt": 1}),
         (EventType.STAGE_COMPLETED, "build", {"status": "success"}),
         (EventType.STAGE_STARTED, "test", {"attempt": 1})],
        start=1,
    ):  # fmt: skip
        reporter.on_event(make_event(source=source, type=kind, sequence=seq, subject=node,
                                     data={"candidate": 0, **data}))  # fmt: skip
    reporter.finish({"status": "succeeded"})

    def table() -> dict[str, str]:
        return {s.name: s.status.value for s in store.get(Run, "r", namespace).status.stages}

    eventually(lambda: table() == {"build": "Succeeded", "test": "Running"}, "the stages table")
    # The runner's identity can report progress and nothing more.
    with pytest.raises(client.exceptions.ApiException) as denied:
        client.BatchV1Api(runner_api).list_namespaced_job(namespace)
    assert denied.value.status == 403


@pytest.mark.slow
def test_with_peering_one_replica_acts_and_another_takes_over(
    operator_kubeconfig: Path, namespace: str, monkeypatch: pytest.MonkeyPatch,
    store: KubeStore, batch: client.BatchV1Api, kubectl: Kubectl, api: client.ApiClient,
) -> None:  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(operator_kubeconfig))
    kubectl("apply", "-f", str(ROOT / "manifests/operator/kopf-peering.yaml"))
    kubectl("apply", "-f", "-", stdin="apiVersion: kopf.dev/v1\nkind: KopfPeering\n"
                                      "metadata: {name: factoryos}\n")  # fmt: skip
    peering = client.CustomObjectsApi(api)

    def peers() -> int:
        body = peering.get_namespaced_custom_object(
            "kopf.dev", "v1", namespace, "kopfpeerings", "factoryos"
        )
        return len([p for p in (body.get("status") or {}).values() if p])

    first = EmbeddedOperator(namespace, peering="factoryos", priority=100)
    second = EmbeddedOperator(namespace, peering="factoryos", priority=50)
    first.start()
    second.start()
    try:
        eventually(lambda: peers() == 2, "both replicas to register")
        add_product(store, namespace, concurrency=2)
        add_run(store, namespace, "one")
        eventually(lambda: len(jobs(batch, namespace)) == 1, "the first run's Job")

        first.stop()  # the acting replica leaves; the other must take over
        eventually(lambda: peers() == 1, "the first replica to sign off")
        add_run(store, namespace, "two")
        eventually(lambda: len(jobs(batch, namespace)) == 2, "the second run's Job", timeout=60)
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_a_missing_secret_stalls_the_run_until_it_exists(
    operator: EmbeddedOperator, store: KubeStore, batch: client.BatchV1Api, namespace: str,
    api: client.ApiClient,
) -> None:  # fmt: skip
    add_product(store, namespace, engine={"passEnv": ["OPENAI_API_KEY"]})
    add_run(store, namespace)

    def stalled(reason: str) -> Callable[[], bool]:
        def check() -> bool:
            conditions = {c.type: c for c in store.get(Run, "r", namespace).status.conditions}
            stall = conditions.get("Stalled")
            return stall is not None and stall.status.value == "True" and stall.reason == reason

        return check

    eventually(stalled("SecretNotFound"), "Stalled SecretNotFound")
    assert "OPENAI_API_KEY" in (store.get(Run, "r", namespace).status.message or "")
    assert jobs(batch, namespace) == []

    add_secret(api, namespace, OTHER="x")
    eventually(stalled("SecretKeyMissing"), "Stalled SecretKeyMissing", timeout=45)
    client.CoreV1Api(api).patch_namespaced_secret(
        "factoryos-secrets", namespace, {"stringData": {"OPENAI_API_KEY": "k"}}
    )
    eventually(lambda: len(jobs(batch, namespace)) == 1, "the Job once the key exists", timeout=45)


@pytest.mark.slow
def test_the_operators_passes_and_records_join_the_runs_trace(
    operator_kubeconfig: Path, namespace: str, monkeypatch: pytest.MonkeyPatch,
    store: KubeStore, batch: client.BatchV1Api, tmp_path: Path,
) -> None:  # fmt: skip
    spans_file, logs_file = tmp_path / "spans.jsonl", tmp_path / "logs.jsonl"
    monkeypatch.setenv("KUBECONFIG", str(operator_kubeconfig))
    monkeypatch.setenv("FACTORYOS_TRACES_FILE", str(spans_file))
    monkeypatch.setenv("FACTORYOS_LOGS_FILE", str(logs_file))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")  # passed on to runners
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    add_product(store, namespace)
    store.create(parse_as(Run, {
        "metadata": {"name": "traced", "namespace": namespace,
                     "annotations": {TRACEPARENT_ANNOTATION: f"00-{trace}-00f067aa0ba902b7-01"}},
        "spec": {"productRef": {"name": "p"}, "goal": "g"},
    }))  # fmt: skip
    op = EmbeddedOperator(namespace)
    op.start()
    try:
        (job,) = eventually(lambda: jobs(batch, namespace), "the run's Job")
    finally:
        op.stop()
    env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    passes = [s for s in spans if s["name"] == "reconcile run"]
    assert passes and {s["context"]["trace_id"] for s in passes} == {f"0x{trace}"}
    assert {s["resource"]["attributes"]["service.name"] for s in passes} == {"factoryos-operator"}
    records = [json.loads(line) for line in logs_file.read_text().splitlines()]
    started = next(r for r in records if r["body"].startswith("run traced: started workload"))
    assert started["trace_id"] == f"0x{trace}"
    assert started["span_id"] in {s["context"]["span_id"] for s in passes}
