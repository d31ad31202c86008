"""Candidates in a sandbox: what a candidate's tool node can find on the disk, and what not.

A real ``sf up`` (with its dashboard, so the real token file exists), real
Kilroy, real bubblewrap. The product's pipeline runs ``search.sh``, which greps
for a marker that only the product's holdouts hold, for the dashboard token and
for a file of another run, in the places where they are outside the sandbox
(the holdouts, FACTORYOS_HOME, the test's temporary folder, the user's home),
looks for the token file by name from ``/``, and lists the run's candidate
folders. Inside, it must find nothing but its own folder; the same script run
outside (the negative control: the search can succeed) finds everything.
The marker and the token are spelled in pieces in the script, so it never finds
itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from factory_support import QUALITY_HOLDOUTS, Factory, wait_for
from kilroy_support import git

from factoryos.models import ConditionType, RunPhase
from factoryos.workloads import RESULT_FILE

#: Slow, 4-8 s a test (a real sf up, two candidates): not in `make test-fast`.
pytestmark = pytest.mark.slow

SEARCH = """#!/bin/bash
# Prints what this process can see of what a candidate must not: nothing, in a sandbox.
marker='{marker_head}''{marker_tail}'
token='{token_head}''{token_tail}'
for root in {roots}; do
  [ -e "$root" ] && grep -rlF -e "$marker" -e "$token" "$root" 2>/dev/null
done
find "$1" \\( -path /proc -o -path /sys \\) -prune -o -name dashboard-token -print 2>/dev/null
own=$(dirname "${{KILROY_LOGS_ROOT:-/nowhere/logs}}")
for folder in {run_dir}/c*; do
  [ -e "$folder" ] && [ "$folder" != "$own" ] && echo "$folder"
done
exit 0
"""


def _nosy_product(factory: Factory, name: str, verifiers: str = "") -> Path:
    """A product whose one step runs search.sh, with holdouts holding a marker;
    ``verifiers``: the product's spec.verifiers (flow YAML)."""
    marker = f"holdout-marker-{os.urandom(6).hex()}"
    holdouts = _holdouts(factory)
    (holdouts / "selection" / "secret-note.txt").write_text(f"{marker}\n")
    token = factory.token
    other = factory.home / "runs" / "default" / "older-run" / "c0" / "repo"
    other.mkdir(parents=True)
    (other / "notes.txt").write_text(f"another run saw {marker}\n")
    user_home = Path(factory.env["HOME"])
    roots = [holdouts, factory.home, factory.root, user_home]
    script = SEARCH.format(
        marker_head=marker[:10], marker_tail=marker[10:], token_head=token[:8],
        token_tail=token[8:], roots=" ".join(map(str, roots)),
        run_dir=factory.run_dir("look").path,
    )  # fmt: skip
    repo = factory.repo(name, {"pipeline": {"search": "bash search.sh / > found.txt"}})
    (repo / "search.sh").write_text(script)
    git(repo, "add", "search.sh")
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "search"], check=True, env=factory.env)
    _apply_product(factory, name, repo, holdouts, verifiers=verifiers)
    return repo


def _holdouts(factory: Factory) -> Path:
    holdouts = factory.root / "holdouts"
    shutil.copytree(QUALITY_HOLDOUTS, holdouts)
    return holdouts


def _apply_product(
    factory: Factory,
    name: str,
    repo: Path,
    holdouts: Path,
    isolation: str = "preferred",
    verifiers: str = "",
) -> None:
    checks = f"\n  verifiers: {verifiers}" if verifiers else ""
    factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: {name}}}
spec:
  repo: {{path: {repo}}}
  candidates: 2
  holdouts: {{path: {holdouts}}}
  isolation: {isolation}{checks}
""")  # fmt: skip


def _run(factory: Factory, product: str, name: str) -> None:
    factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Run
metadata: {{name: {name}}}
spec: {{productRef: {{name: {product}}}, goal: look around, maxIterations: 1}}
""")  # fmt: skip


@pytest.fixture
def user_home(factory: Factory, tmp_path: Path) -> Path:
    """A home of the user's own for ``sf up`` (the real one is too big to grep in a test)."""
    home = tmp_path / "user-home"
    home.mkdir()
    factory.env["HOME"] = str(home)
    return home


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap not installed (make tools)")
def test_a_candidate_finds_neither_the_holdouts_nor_the_token(
    factory: Factory, user_home: Path
) -> None:
    factory.up(dashboard=True)
    (user_home / "copy-of-token").write_text(factory.token)  # the user's files are out of sight
    repo = _nosy_product(factory, "nosy")
    _run(factory, "nosy", "look")

    run_dir = factory.run_dir("look")
    for index in (0, 1):
        result = run_dir.workload(f"look-c{index}-1") / RESULT_FILE
        wait_for(result.exists, timeout=60, what=f"candidate c{index} to finish")
    found = {
        i: git(run_dir.repo(i), "show", f"factory/look/c{i}:found.txt").splitlines() for i in (0, 1)
    }
    assert found == {0: [], 1: []}, f"a sandboxed candidate saw: {found}"

    # The negative control: the same search, unsandboxed, finds all of it.
    outside = subprocess.run(
        ["bash", str(repo / "search.sh"), str(factory.root)],
        capture_output=True, text=True, check=True, timeout=30, env=factory.env,
    ).stdout.splitlines()  # fmt: skip
    token_file = str(factory.home / "dashboard-token")
    assert str(factory.root / "holdouts" / "selection" / "secret-note.txt") in outside
    assert token_file in outside and str(user_home / "copy-of-token") in outside
    assert any(line.endswith("older-run/c0/repo/notes.txt") for line in outside)
    assert {str(run_dir.candidate(0)), str(run_dir.candidate(1))} <= set(outside)

    run = factory.run("look")
    isolated = next(c for c in run.status.conditions if c.type == ConditionType.ISOLATED)
    assert (isolated.status, isolated.reason) == ("True", "Sandboxed")
    assert "bubblewrap sandbox" in (factory.root / "sf-up.log").read_text()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap not installed (make tools)")
def test_a_candidates_code_run_by_the_evaluation_finds_neither(
    factory: Factory, user_home: Path
) -> None:
    """The evaluation reads the holdouts, but the candidate's own code it runs (here a
    verifier; the service and scenario commands run the same way) does not see them."""
    factory.up(dashboard=True)
    search = f"bash search.sh {factory.root}"  # not all of /: each candidate's screen runs it
    _nosy_product(factory, "nosy", verifiers=f"{{unit: [{{name: search, command: {search}}}]}}")
    _run(factory, "nosy", "look")

    evaluation = factory.run_dir("look").evaluation(1)
    logs = [evaluation / f"c{i}" / "verifiers" / "unit-search.log" for i in (0, 1)]
    run = factory.wait_run(  # screened: the rest (the gate) does not matter here
        "look", lambda r: sum(1 for c in r.status.candidates if c.verifiers) == 2, timeout=180
    )
    assert all(log.is_file() for log in logs), run.status.message
    found = {log.parent.parent.name: log.read_text().splitlines() for log in logs}
    assert found == {"c0": [], "c1": []}, f"a candidate's verifier saw: {found}"
    screens = {c.index: [v.passed for v in c.verifiers] for c in run.status.candidates}
    assert screens == {0: [True], 1: [True]}, "the search ran and exited 0 in each"


def test_without_a_sandbox_runs_say_so_and_a_product_that_requires_one_refuses(
    factory: Factory,
) -> None:
    factory.env["FACTORYOS_SANDBOX"] = "0"
    factory.up()
    repo = factory.repo("strict", {"pipeline": {"step": "true"}})
    _apply_product(factory, "strict", repo, _holdouts(factory), isolation="required")
    _run(factory, "strict", "look")

    run = factory.wait_run("look", lambda r: r.status.phase is RunPhase.PENDING and any(
        c.type == ConditionType.STALLED and c.status == "True" for c in r.status.conditions
    ))  # fmt: skip
    stalled = next(c for c in run.status.conditions if c.type == ConditionType.STALLED)
    assert stalled.reason == "IsolationUnavailable"
    assert "spec.isolation: required" in stalled.message
    isolated = next(c for c in run.status.conditions if c.type == ConditionType.ISOLATED)
    assert (isolated.status, isolated.reason) == ("False", "SandboxOff")
    assert "NOT sandboxed" in isolated.message
    assert not _has_workloads(factory, "look"), "nothing started"
    log = (factory.root / "sf-up.log").read_text()
    assert "WARNING: candidates are NOT sandboxed" in log


def _has_workloads(factory: Factory, run: str) -> bool:
    folder = factory.run_dir(run).workloads
    return folder.is_dir() and any(folder.iterdir())
