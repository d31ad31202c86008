"""The local launcher's isolation: said once, refused for a product that requires it."""

from __future__ import annotations

import json
from pathlib import Path

from factoryos.launch import LocalProcessLauncher
from factoryos.models import Isolation
from factoryos.settings import Settings
from factoryos.workloads import WorkloadKind, WorkloadSpec


def spec(
    tmp_path: Path, isolation: Isolation, kind: WorkloadKind = WorkloadKind.BUILD
) -> WorkloadSpec:
    return WorkloadSpec(
        name="r-c0-1", namespace="default", product="p", run="r", candidate=0, attempt=1,
        run_dir=tmp_path / "runs" / "default" / "r", goal="g", isolation=isolation, kind=kind,
    )  # fmt: skip


def test_with_the_sandbox_off_runs_say_so_and_a_required_product_is_refused(
    tmp_path: Path,
) -> None:
    launcher = LocalProcessLauncher(tmp_path / "runs", {"PATH": "/usr/bin"}, prewarm=False,
                                    sandbox=False)  # fmt: skip
    assert not launcher.isolation.isolated and launcher.isolation.reason == "SandboxOff"
    blocked = launcher.blocker(spec(tmp_path, Isolation.REQUIRED))
    assert blocked is not None and blocked[0] == "IsolationUnavailable"
    assert "spec.isolation: required" in blocked[1] and "FACTORYOS_SANDBOX=0" in blocked[1]
    assert launcher.blocker(spec(tmp_path, Isolation.PREFERRED)) is None


def test_without_bwrap_the_launcher_says_what_to_install(tmp_path: Path) -> None:
    launcher = LocalProcessLauncher(
        tmp_path / "runs", {"PATH": str(tmp_path)}, prewarm=False, python="/nowhere/python"
    )
    if launcher.isolation.isolated:  # Debian's /usr/bin/bwrap is looked up as well
        assert Path("/usr/bin/bwrap").exists()
        return
    assert "bubblewrap" in launcher.isolation.message


def test_a_sandboxed_launcher_marks_builds_and_evaluations(tmp_path: Path) -> None:
    launcher = LocalProcessLauncher(tmp_path / "runs", {"PATH": "/usr/bin"}, prewarm=False,
                                    python="/bin/true")  # fmt: skip
    if not launcher.isolation.isolated:
        return  # no sandbox on this machine: nothing is marked (the test above covers it)
    for kind, marked in ((WorkloadKind.BUILD, True), (WorkloadKind.EVALUATE, True)):
        launcher.start(spec(tmp_path, Isolation.PREFERRED, kind))
        folder = tmp_path / "runs" / "default" / "r" / "workloads" / "r-c0-1"
        assert json.loads((folder / "spec.json").read_text())["sandbox"] is marked
        (folder / "process.json").unlink()


def test_the_sandbox_is_on_unless_turned_off() -> None:
    assert Settings.from_env({"FACTORYOS_HOME": "/h"}).sandbox is True
    assert Settings.from_env({"FACTORYOS_HOME": "/h", "FACTORYOS_SANDBOX": "0"}).sandbox is False
