"""The quality example with K=3 and holdouts, on real pods, merged into an authenticated remote.

The product lives in a git remote that pods reach through a Service and that
requires a token (``python -m factoryos.ui.git_service`` in the runner image);
the runners get the token from the namespace's ``factoryos-secrets`` through
``engine.passEnv`` (git's own ``GIT_CONFIG_*`` variables), for the clone and
for the push of the merge. The holdouts are a Secret, mounted read-only into
the evaluation Job only. The three candidates build in parallel pods, each
with its own volume; the evaluation pod screens them, runs sequential halving
and the gate, and pushes the merge of the winner, c2, to ``main``.

Each candidate's pipeline also searches its whole pod for a marker that only
the holdouts Secret holds and for the dashboard's token (``search.sh``; the
strings are spelled in pieces, so it never finds itself): it must find only
the copy it plants itself in /tmp, which shows the same search would have
found them anywhere it could read.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from cluster_support import ROOT, Cluster, run_file

QUALITY = ROOT / "examples" / "products" / "quality"
HOLDOUTS = ROOT / "examples" / "holdouts" / "quality"
VARIANTS = {0: "broken", 1: "partial", 2: "correct"}

SEARCH = """#!/bin/bash
# Prints where in this pod the holdout marker or the dashboard token can be read: only
# the planted control copy, when the pod holds neither.
marker='{marker_head}''{marker_tail}'
token='{token_head}''{token_tail}'
printf '%s\\n%s\\n' "$marker" "$token" > /tmp/planted-control
grep -rlF --binary-files=without-match --exclude-dir=proc --exclude-dir=sys \\
  -e "$marker" -e "$token" / 2>/dev/null
env | grep -qF -e "$marker" -e "$token" && echo "the environment"
exit 0
"""

GIT_SERVER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: git}
spec:
  selector: {matchLabels: {app: git}}
  template:
    metadata: {labels: {app: git}}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: git
        image: factoryos-runner:dev
        imagePullPolicy: IfNotPresent
        command: [python, -m, factoryos.ui.git_service, --root, /repos, --host, 0.0.0.0,
                  --port, "8080", --token-file, /token/token, --init, quality]
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        env: [{name: HOME, value: /tmp}]
        volumeMounts:
        - {name: repos, mountPath: /repos}
        - {name: token, mountPath: /token, readOnly: true}
        - {name: tmp, mountPath: /tmp}
      volumes:
      - {name: repos, emptyDir: {}}
      - {name: tmp, emptyDir: {}}
      - {name: token, secret: {secretName: git-token}}
---
apiVersion: v1
kind: Service
metadata: {name: git}
spec:
  selector: {app: git}
  ports: [{port: 8080, targetPort: 8080}]
"""


def product(ns: str) -> str:
    return f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: quality}}
spec:
  repo: {{url: "http://git.{ns}.svc:8080/quality.git"}}
  candidates: 3
  verifiers:
    typecheck: [{{name: compile, command: "python3 -m py_compile greet.py"}}]
    unit: [{{name: check, command: "python3 check.py"}}]
  holdouts: {{secretRef: {{name: quality-holdouts}}}}
  acceptance: {{target: 0.9, alpha: 0.05}}
  engine:
    agentProfile: test_shim
    agentExecutable: /opt/examples/agents/scripted-agent
    passEnv: [GIT_CONFIG_COUNT, GIT_CONFIG_KEY_0, GIT_CONFIG_VALUE_0]
---
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: q-e2e}}
spec: {{productRef: {{name: quality}}, goal: greet people by name}}
"""


def holdout_files() -> dict[str, str]:
    """The holdouts as a Secret's keys: one flat file each, its pool written into it."""
    files = {}
    for path in sorted(HOLDOUTS.rglob("*.yaml")):
        pool = path.relative_to(HOLDOUTS).parts[0]
        doc = yaml.safe_load(path.read_text())
        doc.setdefault("pool", pool)
        files[f"{pool}-{path.name}"] = yaml.safe_dump(doc, sort_keys=False)
    return files


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def seeded_repository(tmp_path: Path, marker: str, token: str) -> Path:
    """The quality product, with a pipeline that also runs search.sh into found.txt."""
    repo = tmp_path / "quality"
    shutil.copytree(QUALITY, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "variants.json").write_text(json.dumps({str(k): v for k, v in VARIANTS.items()}))
    (repo / "search.sh").write_text(SEARCH.format(
        marker_head=marker[:10], marker_tail=marker[10:], token_head=token[:8],
        token_tail=token[8:],
    ))  # fmt: skip
    pipeline = repo / "pipeline.dot"
    build = 'tool_command="python3 scripts/build_variant.py'
    assert build in pipeline.read_text()
    pipeline.write_text(
        pipeline.read_text().replace(build, f"{build} && bash search.sh > found.txt")
    )
    git("init", "-q", "-b", "main", str(repo))
    git("add", "-A", cwd=repo)
    git(
        "-c",
        "user.name=e2e",
        "-c",
        "user.email=e2e@localhost",
        "commit",
        "-qm",
        "quality",
        cwd=repo,
    )
    return repo


def pod_times(pod: dict[str, Any]) -> tuple[str, str]:
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state["startedAt"], state["finishedAt"]


def test_three_candidates_build_in_parallel_and_the_gated_winner_is_merged(
    cluster: Cluster, tmp_path: Path
) -> None:
    ns = cluster.namespace("quality")
    marker = f"holdout-marker-{secrets.token_hex(6)}"
    token = secrets.token_hex(16)
    header = f"Authorization: Bearer {token}"
    objects = [
        secret("git-token", {"token": token}),
        secret("factoryos-secrets", {"GIT_CONFIG_COUNT": "1",
                                     "GIT_CONFIG_KEY_0": "http.extraHeader",
                                     "GIT_CONFIG_VALUE_0": header}),
        secret("quality-holdouts", holdout_files() | {"secret-note.txt": f"{marker}\n"}),
    ]  # fmt: skip
    cluster.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=GIT_SERVER)
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/git", "--timeout=120s")
    repo = seeded_repository(tmp_path, marker, cluster.dashboard_token())
    with cluster.port_forward("git", 8080, namespace=ns) as remote:
        refused = subprocess.run(
            ["git", "-C", str(repo), "push", "-q", f"{remote}quality.git", "main"],
            capture_output=True, text=True, check=False,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert refused.returncode != 0, "the remote took a push without the token"
        git(
            "-c",
            f"http.extraHeader={header}",
            "push",
            "-q",
            f"{remote}quality.git",
            "main",
            cwd=repo,
        )

        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=product(ns))
        cluster.kubectl(
            "wait", "-n", ns, "--for=condition=Succeeded", "--timeout=900s", "run/q-e2e"
        )

        merged = tmp_path / "merged"
        git("-c", f"http.extraHeader={header}", "clone", "-q", f"{remote}quality.git", str(merged))
    subject = git("log", "-1", "--format=%s", "main", cwd=merged)
    assert subject.startswith("Merge factory/q-e2e/c2"), subject
    assert "Hello, {sys.argv[1]}" in (merged / "greet.py").read_text()

    run = cluster.json("get", "-n", ns, "run", "q-e2e")
    evaluation = run["status"]["evaluation"]
    assert evaluation["accepted"] and evaluation["candidate"] == 2
    phases = {c["index"]: c["phase"] for c in run["status"]["candidates"]}
    assert phases == {0: "ScreenedOut", 1: "Eliminated", 2: "Winner"}

    pods = cluster.json("get", "-n", ns, "pods", "-l", "factoryos.dev/run=q-e2e")["items"]
    builds = [p for p in pods if p["metadata"]["labels"]["factoryos.dev/workload-kind"] == "build"]
    evaluations = [
        p for p in pods if p["metadata"]["labels"]["factoryos.dev/workload-kind"] == "evaluate"
    ]
    assert len(builds) == 3 and len(evaluations) == 1
    spans = [pod_times(p) for p in builds]
    assert max(start for start, _ in spans) < min(end for _, end in spans), (
        f"not in parallel: {spans}"
    )
    for pod in builds:
        assert all(v["name"] != "holdouts" for v in pod["spec"]["volumes"]), (
            "a candidate got the holdouts"
        )
    mounts = evaluations[0]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "holdouts", "mountPath": "/holdouts", "readOnly": True} in mounts
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for p in pods
        for v in p["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"q-e2e-c0-work", "q-e2e-c1-work", "q-e2e-c2-work", "q-e2e-e1-work"}

    with cluster.port_forward("factoryos-dashboard", 8400) as url:
        for index in VARIANTS:
            probe = run_file(
                cluster,
                url,
                ns,
                "q-e2e",
                f"factory/q-e2e/c{index}",
                "probe.txt",
                tmp_path / f"c{index}",
            )
            assert probe == "clean\n", f"c{index} saw the holdouts: {probe}"
            found = run_file(cluster, url, ns, "q-e2e", f"factory/q-e2e/c{index}", "found.txt",
                             tmp_path / f"found-c{index}")  # fmt: skip
            assert found.splitlines() == ["/tmp/planted-control"], f"c{index} found: {found}"
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
