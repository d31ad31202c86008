"""The small builders a runner Job is composed of, each on its own, and the Job's siblings
(its progress ConfigMap, the runners' identity)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from jobs_support import run

from factoryos.launch.jobs import KubeSettings, job_manifest
from factoryos.launch.jobs.manifest import (
    claim_manifest,
    credential_env,
    events_env,
    gpu_resources,
    gpu_scheduling,
    holdouts_volume,
    job_spec,
    owned_metadata,
    plain_env,
    pod_failure_policy,
    pod_spec,
    runner_container,
    runner_env,
    secret_env,
    volume_mounts,
    volumes,
    workload_labels,
)
from factoryos.launch.jobs.progress_reports import progress_manifest
from factoryos.launch.jobs.runner_identity import runner_identity
from factoryos.models import Product, Run, parse_as
from factoryos.reconcile import StartEvaluation, evaluation_spec, workload_spec
from factoryos.workloads import WorkloadSpec

RUNS = Path("/work/runs")


def product(**spec: Any) -> Product:
    return parse_as(
        Product,
        {"metadata": {"name": "p"}, "spec": {"repo": {"url": "https://x/p.git"}, **spec}},
    )


def build(r: Run | None = None, **product_spec: Any) -> WorkloadSpec:
    return workload_spec(r or run(), product(**product_spec), 2, 3, RUNS)


def evaluation(r: Run | None = None, **product_spec: Any) -> WorkloadSpec:
    return evaluation_spec(r or run(), product(**product_spec), StartEvaluation(1, 2, (0,)), RUNS)


class TestLabelsAndOwnership:
    def test_workload_labels_name_the_product_run_candidate_attempt_and_kind(self) -> None:
        assert workload_labels(build(), run()) == {
            "app.kubernetes.io/name": "factoryos-runner",
            "app.kubernetes.io/managed-by": "factoryos",
            "factoryos.dev/product": "p",
            "factoryos.dev/run": "r",
            "factoryos.dev/candidate": "2",
            "factoryos.dev/attempt": "3",
            "factoryos.dev/workload-kind": "build",
        }

    def test_children_are_controlled_by_the_run(self) -> None:
        meta = owned_metadata("x", "ns", {"a": "b"}, run())
        assert (meta["name"], meta["namespace"], meta["labels"]) == ("x", "ns", {"a": "b"})
        assert meta["ownerReferences"] == [
            {"apiVersion": "factoryos.dev/v1alpha1", "kind": "Run", "name": "r", "uid": "uid-r",
             "controller": True, "blockOwnerDeletion": True}
        ]  # fmt: skip

    def test_the_job_and_its_pod_carry_the_workload_labels(self) -> None:
        spec = build()
        job = job_manifest(spec, run(), KubeSettings())
        assert job["metadata"]["name"] == "r-c2-3"
        assert job["metadata"]["labels"] == workload_labels(spec, run())
        assert job["spec"]["template"]["metadata"]["labels"] == workload_labels(spec, run())


class TestRunnerContainer:
    def test_the_runner_reads_its_spec_from_the_environment_as_a_non_root_user(self) -> None:
        settings = KubeSettings(runner_image="img:1", image_pull_policy="Always")
        container = runner_container(build(), run(), settings)
        assert container["name"] == "runner"
        assert (container["image"], container["imagePullPolicy"]) == ("img:1", "Always")
        assert container["command"] == [
            "python", "-m", "factoryos.worker", "--spec-env", "FACTORYOS_WORKLOAD_SPEC"
        ]  # fmt: skip
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }

    def test_a_products_own_image_replaces_the_default_for_its_builds_and_evaluations(
        self,
    ) -> None:
        settings = KubeSettings(runner_image="default:1")
        engine = {"image": "tools-for-p:2"}
        assert runner_container(build(engine=engine), run(), settings)["image"] == "tools-for-p:2"
        assert (
            runner_container(evaluation(engine=engine), run(), settings)["image"] == "tools-for-p:2"
        )
        assert runner_container(build(), run(), settings)["image"] == "default:1"

    def test_the_environment_holds_the_spec_home_and_progress_report_in_order(self) -> None:
        spec = build(engine={"passEnv": ["API_KEY"]})
        env = runner_env(spec, KubeSettings(cxdb_env={"FACTORYOS_CXDB_HTTP_URL": "http://c"}))
        assert [e["name"] for e in env] == [
            "FACTORYOS_WORKLOAD_SPEC",
            "FACTORYOS_HOME",
            "API_KEY",
            "FACTORYOS_PROGRESS_CONFIGMAP",
            "FACTORYOS_NAMESPACE",
            "FACTORYOS_CXDB_HTTP_URL",
        ]
        values = {e["name"]: e.get("value") for e in env}
        assert WorkloadSpec.model_validate_json(values["FACTORYOS_WORKLOAD_SPEC"]) == spec
        assert values["FACTORYOS_HOME"] == "/work/home"
        assert values["FACTORYOS_PROGRESS_CONFIGMAP"] == "r-c2-3-progress"
        assert values["FACTORYOS_NAMESPACE"] == "ns"

    def test_provider_keys_come_from_the_secret_by_reference_never_by_value(self) -> None:
        assert secret_env(["A", "B"], "keys") == [
            {"name": n, "valueFrom": {"secretKeyRef": {"name": "keys", "key": n, "optional": True}}}
            for n in ("A", "B")
        ]

    def test_the_agents_key_comes_from_the_credentials_secret_under_the_runners_name(
        self,
    ) -> None:
        engine = {"provider": "anthropic",
                  "credential": {"secretName": "llm", "secretKey": "claude"}}  # fmt: skip
        assert credential_env(build(engine=engine)) == [
            {"name": "ANTHROPIC_API_KEY",
             "valueFrom": {"secretKeyRef": {"name": "llm", "key": "claude"}}}
        ]  # fmt: skip
        named = {"credential": {"env": "TEAM_KEY", "secretName": "llm"}}
        (entry,) = credential_env(build(engine=named))
        assert entry["name"] == "TEAM_KEY"
        assert entry["valueFrom"]["secretKeyRef"] == {"name": "llm", "key": "TEAM_KEY"}
        assert credential_env(build(engine={"credential": {"env": "LOCAL_ONLY"}})) == []
        template = job_spec(build(engine=engine), run(), KubeSettings(), 5)["template"]
        assert template["metadata"]["annotations"] == {"factoryos.dev/credential": "llm/claude"}

    def test_plain_settings_are_passed_sorted_by_name(self) -> None:
        assert plain_env({"B": "2", "A": "1"}) == [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "2"},
        ]

    def test_events_are_forwarded_only_with_both_a_url_and_a_key(self) -> None:
        assert events_env(build(), KubeSettings(events_url="http://d")) == []
        assert events_env(build(), KubeSettings(ingest_key="k")) == []
        both = KubeSettings(events_url="http://d/", ingest_key="k")
        values = {e["name"]: e["value"] for e in events_env(build(), both)}
        token = values["FACTORYOS_EVENTS_TOKEN"]
        assert values == {
            "FACTORYOS_EVENTS_URL": "http://d/",
            "FACTORYOS_EVENTS_TOKEN": token,
            "FACTORYOS_EVENTS_STREAM": "c2",
            "FACTORYOS_EXCHANGE_URL": "http://d/git/runs/ns/r.git",
            "FACTORYOS_EXCHANGE_TOKEN": token,
        }

    def test_an_evaluations_events_are_its_own_stream(self) -> None:
        both = KubeSettings(events_url="http://d", ingest_key="k")
        values = {e["name"]: e["value"] for e in events_env(evaluation(), both)}
        assert values["FACTORYOS_EVENTS_STREAM"] == "e1"


class TestVolumes:
    def test_a_build_mounts_only_its_workspace(self) -> None:
        spec = build(holdouts={"secretRef": {"name": "h"}})
        assert volumes(spec, KubeSettings()) == [
            {"name": "work", "persistentVolumeClaim": {"claimName": "r-work"}}
        ]
        assert volume_mounts(spec) == [{"name": "work", "mountPath": "/work"}]

    @pytest.mark.parametrize(
        ("source", "volume"),
        [
            ({"secretRef": {"name": "h"}}, {"secret": {"secretName": "h"}}),
            ({"configMapRef": {"name": "h"}}, {"configMap": {"name": "h"}}),
            ({"volumeClaimRef": {"name": "h"}},
             {"persistentVolumeClaim": {"claimName": "h", "readOnly": True}}),
        ],
    )  # fmt: skip
    def test_an_evaluation_mounts_its_holdouts_read_only(
        self, source: dict[str, Any], volume: dict[str, Any]
    ) -> None:
        spec = evaluation(holdouts=source)
        assert holdouts_volume(spec) == {"name": "holdouts", **volume}
        assert volumes(spec, KubeSettings())[1] == {"name": "holdouts", **volume}
        assert volume_mounts(spec)[1] == {
            "name": "holdouts",
            "mountPath": "/holdouts",
            "readOnly": True,
        }

    def test_holdouts_on_a_path_or_none_at_all_are_no_volume(self) -> None:
        assert holdouts_volume(evaluation(holdouts={"path": "/h"})) is None
        assert holdouts_volume(evaluation()) is None
        assert len(volumes(evaluation(), KubeSettings())) == 1


class TestOneClaimPerWorkload:
    """With the git hand-over no two workloads of a run share a ReadWriteOnce claim, so
    candidates and the evaluation may land on different nodes."""

    HANDOVER = KubeSettings(events_url="http://d", ingest_key="k")

    def claim(self, spec: WorkloadSpec, settings: KubeSettings) -> str:
        work = volumes(spec, settings)[0]
        return str(work["persistentVolumeClaim"]["claimName"])

    def test_each_candidate_and_each_evaluation_has_its_own_claim(self) -> None:
        r, p = run(), product()
        specs = [workload_spec(r, p, i, 1, RUNS) for i in range(3)]
        specs += [evaluation_spec(r, p, StartEvaluation(n, 1, (0, 1, 2)), RUNS) for n in (1, 2)]
        claims = [self.claim(s, self.HANDOVER) for s in specs]
        assert claims == ["r-c0-work", "r-c1-work", "r-c2-work", "r-e1-work", "r-e2-work"]
        manifests = [claim_manifest(s, r, self.HANDOVER) for s in specs]
        assert all(m["spec"]["accessModes"] == ["ReadWriteOnce"] for m in manifests)
        assert len({m["metadata"]["name"] for m in manifests}) == len(specs)

    def test_a_candidates_attempts_share_its_claim_so_a_resume_finds_the_checkpoint(self) -> None:
        first, resumed = (workload_spec(run(), product(), 1, a, RUNS) for a in (1, 2))
        assert self.claim(first, self.HANDOVER) == self.claim(resumed, self.HANDOVER) == "r-c1-work"

    def test_without_the_hand_over_the_run_shares_one_claim(self) -> None:
        assert {self.claim(s, KubeSettings()) for s in (build(), evaluation())} == {"r-work"}


class TestGpuScheduling:
    SETTINGS = KubeSettings(gpu_node_selector={"gpu": "a100"}, gpu_resource="x/gpu", gpu_count=2)
    ON_GPU: ClassVar[dict[str, Any]] = {
        "nodeSelector": {"gpu": "a100"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }

    def test_gpu_eval_puts_the_evaluation_on_a_gpu_node_and_not_the_builds(self) -> None:
        r = run(gpu={"eval": True})
        assert gpu_scheduling(evaluation(r), r, self.SETTINGS) == self.ON_GPU
        assert gpu_resources(evaluation(r), r, self.SETTINGS) == {
            "resources": {"limits": {"x/gpu": "2"}}
        }
        assert gpu_scheduling(build(r), r, self.SETTINGS) == {}
        assert gpu_resources(build(r), r, self.SETTINGS) == {}

    def test_gpu_voice_puts_the_builds_voice_stages_on_a_gpu_node(self) -> None:
        r = run(gpu={"voice": True})
        assert gpu_scheduling(build(r), r, self.SETTINGS) == self.ON_GPU
        assert gpu_resources(build(r), r, self.SETTINGS) == {
            "resources": {"limits": {"x/gpu": "2"}}
        }
        assert gpu_scheduling(evaluation(r), r, self.SETTINGS) == {}

    def test_other_runs_get_no_gpu_fields(self) -> None:
        r = run()
        for spec in (build(r), evaluation(r)):
            assert gpu_scheduling(spec, r, KubeSettings()) == {}
            assert gpu_resources(spec, r, KubeSettings()) == {}

    def test_the_scheduling_fields_are_copies_of_the_settings(self) -> None:
        settings, r = KubeSettings(), run(gpu={"voice": True})
        fields = gpu_scheduling(build(r), r, settings)
        fields["nodeSelector"]["x"] = "y"
        fields["tolerations"][0]["key"] = "z"
        assert settings == KubeSettings()


class TestPodAndJob:
    def test_the_pod_never_restarts_in_place_and_outlives_the_runners_grace(self) -> None:
        pod = pod_spec(build(), run(), KubeSettings(service_account="sa"), grace_seconds=7.9)
        assert pod["restartPolicy"] == "Never"
        assert pod["serviceAccountName"] == "sa"
        assert pod["terminationGracePeriodSeconds"] == 22
        assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001,
                                          "fsGroup": 10001,
                                          "seccompProfile": {"type": "RuntimeDefault"}}  # fmt: skip
        assert [c["name"] for c in pod["containers"]] == ["runner"]

    def test_final_exits_fail_the_job_at_once(self) -> None:
        assert pod_failure_policy() == {
            "rules": [
                {"action": "FailJob",
                 "onExitCodes": {"containerName": "runner", "operator": "In", "values": [1, 2, 3]}}
            ]
        }  # fmt: skip

    def test_the_run_sets_the_backoff_and_the_deadline(self) -> None:
        r = run(backoffLimit=4, activeDeadlineSeconds=600)
        job = job_spec(build(r), r, KubeSettings(), grace_seconds=5.0)
        assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (4, 600)
        assert "activeDeadlineSeconds" not in job_spec(build(), run(), KubeSettings(), 5.0)
        assert job_manifest(build(r), r, KubeSettings())["spec"]["activeDeadlineSeconds"] == 600


def test_the_progress_configmap_is_empty_labelled_like_its_job_and_owned_by_the_run() -> None:
    spec = evaluation()
    cm = progress_manifest(spec, run())
    assert (cm["apiVersion"], cm["kind"], cm["data"]) == ("v1", "ConfigMap", {})
    assert cm["metadata"]["name"] == "r-e1-2-progress"
    assert cm["metadata"]["namespace"] == "ns"
    job = job_manifest(spec, run(), KubeSettings())
    assert cm["metadata"]["labels"] == job["metadata"]["labels"]
    assert cm["metadata"]["ownerReferences"][0]["uid"] == "uid-r"


def test_runners_may_read_and_patch_configmaps_and_nothing_else() -> None:
    account, role, binding = runner_identity("ns", KubeSettings(service_account="sa"))
    assert (account["kind"], account["metadata"]["name"], account["metadata"]["namespace"]) == (
        "ServiceAccount", "sa", "ns"
    )  # fmt: skip
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]}
    ]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "sa"}  # fmt: skip
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]
    assert json.dumps([account, role, binding]).count('"namespace": "ns"') == 4
