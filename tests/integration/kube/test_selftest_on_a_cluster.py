"""``sf selftest --context``'s cluster side against a real kube-apiserver.

There is no kubelet here (tests/e2e runs the whole selftest on kind), so the
operator's part is played by a thread that writes what a real one would: the
Run's stages and phase, and the run's pod. What is checked for real is what
the selftest does on a cluster: its namespace, the Products it makes from
the runner image's examples, stopping through the Run's spec, finding the
run's pods that still run after Stopped (a runner that ignores its stop
fails the stop check), and reading and validating events through the real
dashboard, where a clock that goes back fails the events check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from kube_support import DASHBOARD_TOKEN, INGEST_KEY, TestCluster
from kubernetes import client

from factoryos.errors import NotFoundError
from factoryos.events import Event, EventLog, EventType, run_source, run_token
from factoryos.events.dashboard import DashboardEvents
from factoryos.launch.jobs import RUN_LABEL
from factoryos.models import DesiredState, Product, Run, RunPhase, StageState, StageStatus
from factoryos.runner.forward import EventForwarder, ingest_url
from factoryos.selftest.checks import check_events, check_stop
from factoryos.selftest.cluster import ClusterFactory
from factoryos.store.apiserver import KubeStore


@pytest.fixture
def target(api: client.ApiClient, dashboard: str, tmp_path: Path) -> Iterator[ClusterFactory]:
    name = f"fos-selftest-{os.urandom(3).hex()}"
    factory = ClusterFactory(KubeStore(api), api, DashboardEvents(dashboard, DASHBOARD_TOKEN), name)
    factory.stop_grace_seconds = 2.0
    factory.start()
    yield factory
    factory.close()


class FakeOperator(threading.Thread):
    """What the operator and a runner would write for one run: stage b running, then Stopped.

    ``honours_stop``: a sound runner's pod ends when stopped; a broken one keeps running.
    """

    def __init__(self, factory: ClusterFactory, run: str, *, honours_stop: bool) -> None:
        super().__init__(daemon=True)
        self.factory, self.run_name, self.honours_stop = factory, run, honours_stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._play()
        except BaseException as exc:
            self.error = exc

    def _play(self) -> None:
        store, ns, core = self.factory.store, self.factory.namespace, self.factory.core
        run = self._wait(lambda r: True)
        run.status.phase = RunPhase.BUILDING
        run.status.stages = [StageStatus(name="a", status=StageState.SUCCEEDED),
                             StageStatus(name="b", status=StageState.RUNNING)]  # fmt: skip
        store.update_status(run)
        pod = f"{self.run_name}-c0-1-x"
        core.create_namespaced_pod(ns, {
            "metadata": {"name": pod, "labels": {RUN_LABEL: self.run_name}},
            "spec": {"containers": [{"name": "runner", "image": "factoryos/runner"}]},
        })  # fmt: skip
        core.patch_namespaced_pod_status(pod, ns, {"status": {"phase": "Running"}})
        run = self._wait(lambda r: r.spec.desired_state is DesiredState.STOPPED)
        if self.honours_stop:
            core.patch_namespaced_pod_status(pod, ns, {"status": {"phase": "Succeeded"}})
        run.status.phase = RunPhase.STOPPED
        store.update_status(run)

    def _wait(self, ready: object) -> Run:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                run = self.factory.get(self.run_name)
                if ready(run):  # type: ignore[operator]
                    return run
            except NotFoundError:
                pass
            time.sleep(0.1)
        raise TimeoutError(self.run_name)


def test_products_come_from_the_runner_images_examples(target: ClusterFactory) -> None:
    target.product("st-stop", "selftest", pipeline="stop.dot")
    target.product("smoke", "smoke")
    stop = target.store.get(Product, "st-stop", target.namespace)
    smoke = target.store.get(Product, "smoke", target.namespace)
    assert stop.spec.repo.path == "/opt/examples/selftest" and stop.spec.pipeline == "stop.dot"
    assert smoke.spec.engine.agent_executable == "/opt/examples/agents/scripted-agent"
    namespace = client.CoreV1Api(target.store.api).read_namespace(target.namespace)  # type: ignore[attr-defined]
    assert namespace.metadata.labels["factoryos.dev/selftest"] == "true"


@pytest.mark.parametrize("honours_stop", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_the_stop_check_fails_when_a_pod_of_the_run_outlives_its_stop(
    target: ClusterFactory, honours_stop: bool
) -> None:
    operator = FakeOperator(target, "st-stop-1", honours_stop=honours_stop)
    operator.start()
    try:
        detail = check_stop(target)
        passed = True
    except Exception as exc:
        detail, passed = str(exc), False
    operator.join(timeout=30)
    assert operator.error is None, operator.error
    assert passed is honours_stop, detail
    if not honours_stop:
        assert "pod st-stop-1-c0-1-x (Running)" in detail


def test_the_events_check_reads_the_dashboards_copy_and_catches_a_clock_going_back(
    target: ClusterFactory, dashboard: str, tmp_path: Path
) -> None:
    target.product("st-resume", "selftest", pipeline="resume.dot")
    name = target.run("st-resume", "st-resume-1")
    log = EventLog(tmp_path / "events.ndjson", run_source("st-resume", name))
    for i in range(5):
        log.append(EventType.LOG, {"message": f"line {i}"})
    url = ingest_url(dashboard, target.namespace, name)
    token = run_token(INGEST_KEY, target.namespace, name)
    assert EventForwarder(log.path, url, token).start().close(timeout=30)
    assert check_events(target) == "5 events of 1 run(s) valid: schema, sequence, time"

    last = Event.model_validate(target.raw_events(name)[-1])
    earlier = last.model_copy(
        update={"sequence": last.sequence + 1, "time": last.time - timedelta(seconds=5)}
    )
    with log.path.open("a") as fh:
        fh.write(earlier.to_json_line() + "\n")
    assert EventForwarder(log.path, url, token).start().close(timeout=30)
    with pytest.raises(Exception, match="time") as failed:
        check_events(target)
    assert name in str(failed.value)


def test_sf_selftest_context_needs_the_dashboard(cluster: TestCluster, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "factoryos.cli.app", "selftest", "--context", "test",
         "--only", "stop"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FACTORYOS_DASHBOARD")},
             "KUBECONFIG": str(cluster.kubeconfig), "FACTORYOS_HOME": str(tmp_path / "h")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "port-forward svc/factoryos-dashboard" in done.stderr
