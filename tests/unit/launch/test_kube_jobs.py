"""Runner Jobs as data: what ``job_manifest`` builds and what ``job_state`` reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jobs_support import run

from factoryos.events import run_token
from factoryos.launch.jobs import KubeSettings, claim_manifest, job_manifest, job_state
from factoryos.models import Product, Run, parse_as
from factoryos.reconcile import StartEvaluation, evaluation_spec, workload_spec
from factoryos.workloads import WorkloadSpec, WorkloadStatus


def job_spec_of(r: Run) -> WorkloadSpec:
    product = parse_as(
        Product, {"metadata": {"name": "p"}, "spec": {"repo": {"url": "https://x/p.git"}}}
    )
    return workload_spec(r, product, 0, 1, Path("/work/runs"))


def manifest(r: Run, settings: KubeSettings | None = None) -> dict[str, Any]:
    return job_manifest(job_spec_of(r), r, settings or KubeSettings())


def test_no_gpu_fields_unless_the_run_asks() -> None:
    pod = manifest(run())["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "resources" not in pod["containers"][0]


def test_gpu_settings_come_from_the_environment() -> None:
    settings = KubeSettings.from_env(
        {"FACTORYOS_GPU_NODE_SELECTOR": "gpu=a100,zone=x", "FACTORYOS_GPU_COUNT": "2",
         "FACTORYOS_RUNNER_IMAGE": "reg.local/runner:1"}
    )  # fmt: skip
    job = manifest(run(gpu={"voice": True}), settings)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "a100", "zone": "x"}
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert pod["containers"][0]["image"] == "reg.local/runner:1"


def test_only_infrastructure_failures_use_the_backoff() -> None:
    rules = manifest(run(backoffLimit=4))["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["values"] == [1, 2, 3]


def test_the_claim_is_owned_by_the_run() -> None:
    settings = KubeSettings(storage_class="fast")
    claim = claim_manifest(job_spec_of(run()), run(), settings)
    assert claim["metadata"]["name"] == "r-work"
    assert claim["metadata"]["ownerReferences"][0]["uid"] == "uid-r"
    assert claim["spec"]["storageClassName"] == "fast"


def job(status: dict[str, Any] | None = None, suspend: bool = False) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "r-c1-2",
            "creationTimestamp": "2026-01-01T00:00:00+00:00",
            "labels": {"factoryos.dev/candidate": "1", "factoryos.dev/attempt": "2"},
        },
        "spec": {"suspend": suspend},
        "status": status or {},
    }


def failed(message: str, reason: str = "PodFailurePolicy") -> dict[str, Any]:
    return {"conditions": [{"type": "Failed", "status": "True", "reason": reason,
                            "message": message}]}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "suspend", "expected"),
    [
        ({"active": 1}, False, None),
        ({"conditions": [{"type": "Complete", "status": "True"}]}, False, WorkloadStatus.SUCCEEDED),
        (failed("failed with exit code 1 matching FailJob rule"), False, WorkloadStatus.FAILED),
        (failed("failed with exit code 2 matching FailJob rule"), False, WorkloadStatus.INVALID),
        (failed("failed with exit code 3 matching FailJob rule"), False, WorkloadStatus.STOPPED),
        (failed("Job has reached the specified backoff limit", "BackoffLimitExceeded"), False,
         WorkloadStatus.ERROR),
        ({}, True, WorkloadStatus.STOPPED),
        ({"active": 1}, True, None),
    ],
)  # fmt: skip
def test_job_state_reads_the_outcome(
    status: dict[str, Any], suspend: bool, expected: WorkloadStatus | None
) -> None:
    state = job_state(job(status, suspend))
    assert (state.candidate, state.attempt) == (1, 2)
    assert (state.result.status if state.result else None) is expected
    assert state.stopping == (suspend and expected is None)


def test_cxdb_settings_reach_the_runner_and_kilroys_run_config(tmp_path: Path) -> None:
    from factoryos.kilroy import CxdbEndpoint
    from factoryos.kilroy.config import build_run_config

    env = {"FACTORYOS_CXDB_HTTP_URL": "http://cxdb:9010", "FACTORYOS_CXDB_BINARY_ADDR": "cxdb:9009"}
    job = manifest(run(), KubeSettings.from_env(env))
    passed = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert {k: passed[k] for k in env} == env
    endpoint = CxdbEndpoint.from_env(passed)
    assert endpoint == CxdbEndpoint("http://cxdb:9010", "cxdb:9009")
    config = build_run_config(workspace=tmp_path, catalog=tmp_path / "c.json",
                              cxdb=(endpoint.http_base_url, endpoint.binary_addr))  # fmt: skip
    assert config["cxdb"] == {"http_base_url": "http://cxdb:9010", "binary_addr": "cxdb:9009"}
    assert "cxdb" not in build_run_config(workspace=tmp_path, catalog=tmp_path / "c.json")
    assert CxdbEndpoint.from_env({}) is None


def test_runners_get_where_telemetry_goes_but_never_its_headers() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cret",
        "OTEL_SERVICE_NAME": "factoryos-operator",
    }
    job = manifest(run(), KubeSettings.from_env(env))
    passed = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert passed["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert passed["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "http/protobuf"
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in passed and "OTEL_SERVICE_NAME" not in passed
    assert "s3cret" not in json.dumps(job)


def test_runners_get_a_token_for_their_own_runs_events_only() -> None:
    env = manifest(run())["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not any(e["name"].startswith("FACTORYOS_EVENTS_") for e in env), "off by default"
    settings = KubeSettings.from_env(
        {"FACTORYOS_EVENTS_URL": "http://factoryos-dashboard:8400/", "FACTORYOS_INGEST_KEY": "k"}
    )
    env = manifest(run(), settings)["spec"]["template"]["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["FACTORYOS_EVENTS_URL"] == "http://factoryos-dashboard:8400/"
    assert values["FACTORYOS_EVENTS_TOKEN"] == run_token("k", "ns", "r")
    assert "k" not in values.values(), "the key itself never reaches a runner"


def test_only_evaluation_jobs_mount_the_holdouts_read_only() -> None:
    product = parse_as(
        Product,
        {"metadata": {"name": "p"},
         "spec": {"repo": {"url": "https://x/p.git"}, "holdouts": {"secretRef": {"name": "h"}}}},
    )  # fmt: skip
    r = run()
    build = job_manifest(workload_spec(r, product, 0, 1, Path("/work/runs")), r, KubeSettings())
    build_pod = build["spec"]["template"]["spec"]
    assert [v["name"] for v in build_pod["volumes"]] == ["work"]
    assert all(m["name"] != "holdouts" for m in build_pod["containers"][0]["volumeMounts"])
    assert "holdouts" not in json.dumps(build_pod["containers"][0]["env"])

    spec = evaluation_spec(r, product, StartEvaluation(1, 1, (0,)), Path("/work/runs"))
    assert spec.evaluation is not None and str(spec.evaluation.holdouts) == "/holdouts"
    pod = job_manifest(spec, r, KubeSettings())["spec"]["template"]["spec"]
    assert {"name": "holdouts", "secret": {"secretName": "h"}} in pod["volumes"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "holdouts")
    assert mount == {"name": "holdouts", "mountPath": "/holdouts", "readOnly": True}
    assert (
        job_manifest(spec, r, KubeSettings())["metadata"]["labels"]["factoryos.dev/workload-kind"]
        == "evaluate"
    )
