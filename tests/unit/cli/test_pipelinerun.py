"""The shortcut of ``sf pipeline run`` (``factoryos.cli.pipelinerun``), which starts Kilroy
without Typer.

It must parse the options the Typer command has, into the very parameters Typer
would pass, fail the way ``sf``'s error edge does, and hand everything it is not
sure of back to Typer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.core import TyperArgument, TyperGroup, TyperOption

from factoryos.cli import pipeline, pipelinerun, root
from factoryos.cli.lazy import COMMANDS
from factoryos.errors import FactoryError, NotFoundError, ToolMissingError


def _typer_run_params() -> list[Any]:
    group = COMMANDS["pipeline"].load("pipeline")
    assert isinstance(group, TyperGroup)
    return list(group.commands["run"].params)


def test_the_option_table_is_the_typer_commands() -> None:
    params = _typer_run_params()
    options = {
        spelling: (param.name, not param.is_flag)
        for param in params
        if isinstance(param, TyperOption)
        for spelling in [*param.opts, *param.secondary_opts]
    }
    assert dict(pipelinerun.OPTIONS) == options
    assert tuple(pipelinerun.ARGUMENTS) == tuple(
        param.name for param in params if isinstance(param, TyperArgument)
    )
    assert {
        param.name for param in params if isinstance(param, TyperOption) and param.multiple
    } == pipelinerun.REPEATED


ACCEPTED = [
    ["g.dot", "-w", "ws"],
    ["g.dot", "--workspace", "ws", "--run-id", "r1", "--product", "shop"],
    ["-w", "ws", "g.dot", "-i", "A=1", "--input", "B=two words", "-i", "A=3"],
    ["g.dot", "-w", "ws", "--agent-profile", "test_shim", "--agent-executable", "bin/agent"],
    ["g.dot", "-w", "a", "-w", "b", "--grace", "0.5", "-o", "json"],
    ["g.dot", "-w", "ws", "--grace", "7", "--output", "yaml", "--run-id", "x", "--run-id", "y"],
]


@pytest.mark.parametrize("words", ACCEPTED, ids=" ".join)
def test_the_shortcut_passes_what_typer_passes(
    words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def record(**params: Any) -> int:
        seen.append(params)
        return 0

    monkeypatch.setattr(pipeline, "run_pipeline", record)
    monkeypatch.setattr(pipelinerun, "run_pipeline", record)
    assert root.main(["pipeline", "run", *words]) == 0
    assert pipelinerun.start(["pipeline", "run", *words], {}) == 0
    through_typer, through_shortcut = seen
    # Typer gives an option never given as multiple its empty tuple; both mean "none".
    through_typer["inputs"] = list(through_typer["inputs"] or []) or None
    assert through_shortcut == through_typer


HANDED_OVER = [
    ["pipeline", "run", "--help"],
    ["pipeline", "run", "-h"],
    ["pipeline", "run", "g.dot"],
    ["pipeline", "run", "g.dot", "-w"],
    ["pipeline", "run", "g.dot", "--workspace=ws"],
    ["pipeline", "run", "g.dot", "-wws"],
    ["pipeline", "run", "g.dot", "-w", "ws", "--grace", "soon"],
    ["pipeline", "run", "g.dot", "-w", "ws", "-o", "xml"],
    ["pipeline", "run", "g.dot", "-w", "ws", "--run-id", "-r"],
    ["pipeline", "run", "g.dot", "extra.dot", "-w", "ws"],
    ["pipeline", "run", "-w", "ws", "--", "g.dot"],
    ["pipeline", "run", "-", "-w", "ws"],
    ["pipeline", "run", "g.dot", "-w", "ws", "--bogus"],
    ["pipeline", "validate", "g.dot"],
    ["pipeline", "resume", "r1"],
    ["--context", "c", "pipeline", "run", "g.dot", "-w", "ws"],
    ["pipeline"],
    [],
]


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(params: dict[str, Any]) -> int:
        raise AssertionError(f"the shortcut ran {params}")

    monkeypatch.setattr(pipelinerun, "run_guarded", refuse)


@pytest.mark.usefixtures("nothing_runs")
@pytest.mark.parametrize("argv", HANDED_OVER, ids=[" ".join(a) or "(none)" for a in HANDED_OVER])
def test_what_the_shortcut_is_not_sure_of_goes_to_typer(argv: list[str]) -> None:
    assert pipelinerun.start(argv, {}) is None


@pytest.mark.usefixtures("nothing_runs")
@pytest.mark.parametrize(
    "env", [{"FACTORYOS_CONTEXT": "kind-x"}, {"_SF_COMPLETE": "bash_complete"}], ids=str
)
def test_a_cluster_context_and_shell_completion_go_to_typer(env: dict[str, str]) -> None:
    assert pipelinerun.start(["pipeline", "run", "g.dot", "-w", "ws"], env) is None


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("pipeline not found: g.dot"),
        ToolMissingError("no kilroy\nsecond line"),
        FactoryError("engine broke"),
        KeyboardInterrupt(),
        EOFError(),
        BrokenPipeError(32, "Broken pipe"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_failure_ends_as_through_typer(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(**_: Any) -> int:
        raise error

    monkeypatch.setattr(pipeline, "run_pipeline", fail)
    monkeypatch.setattr(pipelinerun, "run_pipeline", fail)
    argv = ["pipeline", "run", "g.dot", "-w", "ws"]
    streams = sys.stdout, sys.stderr
    status = root.main(argv)
    sys.stdout, sys.stderr = streams
    through_typer = capsys.readouterr()
    streams = sys.stdout, sys.stderr
    assert pipelinerun.start(argv, {}) == status
    sys.stdout, sys.stderr = streams  # a closed pipe pacifies them, on both paths
    assert capsys.readouterr() == through_typer
    assert status != 0


def test_a_bad_input_is_our_error_through_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--input`` is checked by the command's body, which both paths run."""
    monkeypatch.setenv("FACTORYOS_HOME", str(tmp_path))
    monkeypatch.setenv("FACTORYOS_KILROY", str(tmp_path / "no-kilroy"))
    argv = ["pipeline", "run", "g.dot", "-w", "ws", "-i", "no-equals-sign"]
    status = root.main(argv)
    through_typer = capsys.readouterr()
    assert pipelinerun.start(argv, {}) == status
    assert capsys.readouterr() == through_typer
    assert through_typer.err.startswith("sf: error: ")


#: Prints a line to a pipe (buffered), then ends through ``exit_now`` with status argv[2];
#: with argv[1] "thread", while another thread is still alive.
EXIT_PROBE = """
import atexit, os, sys, threading
from factoryos.cli.pipelinerun import exit_now

class Teardown:
    def __del__(self, write=os.write):
        write(1, b"teardown\\n")

kept = Teardown()
atexit.register(print, "exit handler")
if sys.argv[1] == "thread":
    threading.Thread(target=threading.Event().wait, args=(0.3,)).start()
print("summary")
exit_now(int(sys.argv[2]))
print("returned")
sys.exit(int(sys.argv[2]))
"""


def exit_probe(thread: bool, status: int) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", EXIT_PROBE, "thread" if thread else "alone", str(status)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("status", [0, 1, 130])
def test_the_run_ends_the_process_after_its_exit_handlers_and_output(status: int) -> None:
    ended = exit_probe(thread=False, status=status)
    assert ended.returncode == status
    assert ended.stdout == "summary\nexit handler\n"  # and no teardown


def test_while_another_thread_runs_the_process_ends_as_usual() -> None:
    ended = exit_probe(thread=True, status=1)
    assert ended.returncode == 1
    assert ended.stdout.splitlines() == ["summary", "returned", "exit handler", "teardown"]


class RefusedError(Exception):
    """What the stand-in runner raises once it has been handed the run."""


def test_the_runner_gets_the_validation_and_the_look_at_the_workspace_started_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both start before the adapter and the runner load (``test_import_sets``); the runner
    waits for their answers."""
    from factoryos.cli.emit import OutputFormat
    from factoryos.kilroy import binary, quick
    from factoryos.kilroy.workspace import PendingWorkspace

    monkeypatch.setenv("FACTORYOS_HOME", str(tmp_path / "home"))
    found = binary.KilroyBinary(Path("/kilroy"), "v0.1.0")
    monkeypatch.setattr(binary, "find_kilroy", lambda settings, env: found)
    validation = object()
    monkeypatch.setattr(quick, "start_validation", lambda *args, **kwargs: validation)
    handed: list[dict[str, Any]] = []

    class Runs:
        def run(self, spec: object, **given: Any) -> None:
            handed.append(given)
            raise RefusedError

    monkeypatch.setattr(pipelinerun, "runner", lambda kilroy, product, grace: Runs())
    with pytest.raises(RefusedError):
        pipelinerun.run_pipeline(
            graph=tmp_path / "g.dot", workspace=tmp_path / "ws", inputs=None, run_id="r1",
            product="adhoc", agent_profile="real", agent_executable=None, grace=1.0,
            output=OutputFormat.TEXT,
        )  # fmt: skip
    (given,) = handed
    assert given["validation"] is validation
    look = given["workspace"]
    assert isinstance(look, PendingWorkspace)
    assert look.path == (tmp_path / "ws").resolve()
