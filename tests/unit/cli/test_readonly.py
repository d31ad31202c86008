"""The read-only shortcut of ``sf run list|status`` and ``sf product list``.

It must print exactly what the Typer commands print (they share
``factoryos.cli.views``; the shortcut reads the stored JSON instead of the
models), parse the same options, and hand everything it is not sure of back
to Typer, errors included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer._click import Command
from typer.core import TyperArgument, TyperGroup, TyperOption

from factoryos.cli import readonly, root, views
from factoryos.cli.lazy import COMMANDS
from factoryos.models import Product, Run, parse_as
from factoryos.store import LocalStore

T0 = "2026-12-01T10:00:00Z"
T1 = "2026-12-01T10:03:30Z"


def _condition(kind: str) -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": "Because", "lastTransitionTime": T0}


#: Run name -> (namespace, product, status): a spread of what the views show.
RUNS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "fresh": ("default", "p", {}),
    "done": (
        "default",
        "p",
        {
            "phase": "Succeeded",
            "message": "merged c1",
            "startTime": T0,
            "completionTime": T1,
            "iteration": 2,
            "conditions": [_condition("Ready"), _condition("Succeeded")],
            "candidates": [
                {
                    "index": 0,
                    "branch": "factory/done/c0",
                    "phase": "ScreenedOut",
                    "verifiers": [{"kind": "unit", "name": "pytest", "passed": False}],
                },
                {
                    "index": 1,
                    "branch": "factory/done/c1",
                    "phase": "Winner",
                    "verifiers": [{"kind": "lint", "name": "ruff", "passed": True}],
                    "trials": 10,
                    "passes": 9,
                },
                {"index": 2, "branch": "factory/done/c2", "trials": 4},
            ],
            "stages": [
                {"name": "plan", "status": "Succeeded", "startTime": T0, "completionTime": T1},
                {
                    "name": "build",
                    "candidate": 1,
                    "status": "Failed",
                    "attempt": 2,
                    "maxAttempts": 3,
                    "failureReason": "tests failed",
                },
                {"name": "ship", "status": "Skipped"},
            ],
        },
    ),
    "other": ("team", "q", {"phase": "Building", "stages": [{"name": "a", "status": "Running"}]}),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A factory with products in two namespaces and the runs above (stopped: ``fresh``)."""
    home = tmp_path / "home"
    monkeypatch.setenv("FACTORYOS_HOME", str(home))
    monkeypatch.delenv("FACTORYOS_CONTEXT", raising=False)
    # Ages are "now minus then": both paths print through views.age, held still here.
    monkeypatch.setattr(views, "age", lambda then, now=None: "-" if then is None else "5m")
    store = LocalStore(home / readonly.STORE_FILE)
    for name, namespace in (("p", "default"), ("q", "team")):
        product = {"metadata": {"name": name, "namespace": namespace}}
        store.create(parse_as(Product, {**product, "spec": {"repo": {"path": f"/src/{name}"}}}))
    for name, (namespace, product, status) in RUNS.items():
        spec: dict[str, Any] = {"productRef": {"name": product}, "goal": f"goal of {name}"}
        if name == "fresh":
            spec["desiredState"] = "Stopped"
        run = store.create(
            parse_as(Run, {"metadata": {"name": name, "namespace": namespace}, "spec": spec})
        )
        if status:
            dumped = run.model_dump(by_alias=True, mode="json")
            run.status = parse_as(Run, {**dumped, "status": status}).status
            store.update_status(run)
    store.close()
    return home


def _both(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    import os

    assert readonly.answer(argv, os.environ) == 0
    shortcut = capsys.readouterr().out
    assert root.main(argv) == 0
    return shortcut, capsys.readouterr().out


ANSWERED = [
    ["run", "list"],
    ["run", "list", "-A"],
    ["run", "list", "--all-namespaces", "-n", "nowhere"],
    ["run", "list", "-n", "team"],
    ["run", "list", "--namespace", "empty"],
    ["run", "list", "-p", "p", "-o", "text"],
    ["run", "list", "--product", "nothing"],
    ["run", "list", "--product", ""],
    ["run", "list", "-n", "x", "-n", "team"],
    ["run", "status", "done"],
    ["run", "status", "fresh"],
    ["run", "status", "-n", "team", "other"],
    ["run", "status", "other", "--namespace", "team", "--output", "text"],
    ["product", "list"],
    ["product", "list", "-n", "team"],
    ["product", "list", "-n", "nowhere"],
]


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize("argv", ANSWERED, ids=[" ".join(a) for a in ANSWERED])
def test_the_shortcut_prints_what_the_typer_command_prints(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    shortcut, typer_output = _both(argv, capsys)
    assert shortcut == typer_output


@pytest.mark.usefixtures("home")
def test_the_runs_table_shows_namespaces_under_all(capsys: pytest.CaptureFixture[str]) -> None:
    shortcut, _ = _both(["run", "list", "-A"], capsys)
    lines = shortcut.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "PRODUCT", "PHASE", "DESIRED", "STAGES", "AGE"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["other"][0] == "team"
    assert rows["fresh"][3:6] == ["-", "Stopped", "-"]
    assert rows["done"][3:6] == ["Succeeded", "Running", "2/3"]


def test_runs_are_listed_newest_first_keeping_the_stores_order_among_equals() -> None:
    def run(name: str, created: str | None) -> dict[str, Any]:
        return {"metadata": {"name": name, **({"creationTimestamp": created} if created else {})}}

    runs = [run("a", T0), run("b", None), run("c", T1), run("d", T0)]
    assert [r["metadata"]["name"] for r in views.newest_first(runs)] == ["c", "a", "d", "b"]


HANDED_OVER = [
    ["run", "list", "-o", "json"],
    ["run", "list", "--output", "yaml"],
    ["run", "list", "--help"],
    ["run", "list", "--namespace=team"],
    ["run", "list", "-An"],
    ["run", "list", "--", "x"],
    ["run", "list", "extra"],
    ["run", "list", "-n"],
    ["run", "list", "-n", "-A"],
    ["run", "status", "-"],
    ["run", "status"],
    ["run", "status", "nothing-here"],
    ["run", "status", "a", "b"],
    ["run", "stop", "done"],
    ["product", "show", "p"],
    ["--context", "c", "run", "list"],
    ["run"],
    [],
]


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize("argv", HANDED_OVER, ids=[" ".join(a) or "(none)" for a in HANDED_OVER])
def test_what_the_shortcut_is_not_sure_of_goes_to_typer(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    assert readonly.answer(argv, os.environ) is None
    assert capsys.readouterr().out == ""


def test_a_cluster_context_goes_to_typer(home: Path) -> None:
    assert readonly.answer(["run", "list"], {"FACTORYOS_HOME": str(home)}) == 0
    env = {"FACTORYOS_HOME": str(home), "FACTORYOS_CONTEXT": "kind-x"}
    assert readonly.answer(["run", "list"], env) is None


def test_shell_completion_goes_to_typer(home: Path) -> None:
    env = {"FACTORYOS_HOME": str(home), "_SF_COMPLETE": "bash_complete"}
    assert readonly.answer(["run", "list"], env) is None


def test_a_store_not_created_yet_goes_to_typer(tmp_path: Path) -> None:
    """Typer's path creates the store (and says there are no runs)."""
    env = {"FACTORYOS_HOME": str(tmp_path / "none")}
    assert readonly.answer(["run", "list"], env) is None
    assert not (tmp_path / "none").exists()


def test_a_run_with_a_gate_decision_goes_to_typer(home: Path) -> None:
    """Its gate line is ``Evaluation.describe``'s, which the shortcut does not load."""
    store = LocalStore(home / readonly.STORE_FILE)
    run = store.get(Run, "done")
    gate = {"n": 10, "k": 9, "lowerBound": 0.6, "target": 0.5, "alpha": 0.05, "accepted": True}
    dumped = run.model_dump(by_alias=True, mode="json")
    run.status = parse_as(
        Run, {**dumped, "status": {**dumped["status"], "evaluation": gate}}
    ).status
    store.update_status(run)
    store.close()
    assert readonly.answer(["run", "status", "done"], {"FACTORYOS_HOME": str(home)}) is None


def test_a_row_missing_a_key_the_views_index_goes_to_typer(home: Path) -> None:
    import sqlite3

    db = sqlite3.connect(home / readonly.STORE_FILE)
    with db:
        db.execute("UPDATE objects SET body = json_remove(body, '$.spec.desiredState')")
    db.close()
    assert readonly.answer(["run", "list"], {"FACTORYOS_HOME": str(home)}) is None


def _typer_command(group: str, name: str) -> Command:
    loaded = COMMANDS[group].load(group)
    assert isinstance(loaded, TyperGroup)
    return loaded.commands[name]


@pytest.mark.parametrize("command", list(readonly.OPTIONS), ids=" ".join)
def test_the_shortcut_parses_the_options_and_arguments_the_typer_command_has(
    command: tuple[str, str],
) -> None:
    real = _typer_command(*command)
    options = {
        spelling: (param.name, not param.is_flag)
        for param in real.params
        if isinstance(param, TyperOption)
        for spelling in [*param.opts, *param.secondary_opts]
    }
    arguments = tuple(param.name for param in real.params if isinstance(param, TyperArgument))
    assert dict(readonly.OPTIONS[command]) == options
    assert tuple(readonly.ARGUMENTS[command]) == arguments
