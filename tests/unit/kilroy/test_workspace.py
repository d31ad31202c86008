"""The workspace a run works on: what ``prepare_workspace`` accepts, creates and refuses,
and the same answers from a look started earlier (``start_workspace``), which
``Kilroy.start`` takes when it is given one."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from factoryos.errors import WorkspaceError
from factoryos.kilroy.adapter import Kilroy
from factoryos.kilroy.binary import KilroyBinary
from factoryos.kilroy.runspec import RunSpec
from factoryos.kilroy.workspace import PendingWorkspace, start_workspace
from factoryos.settings import Settings


def started_early(path: Path) -> Path:
    return start_workspace(path).result()


def prepare_now(path: Path) -> Path:
    from factoryos.kilroy.workspace import prepare_workspace

    return prepare_workspace(path)


@pytest.fixture(params=[prepare_now, started_early], ids=["prepared", "started-early"])
def prepare_workspace(request: pytest.FixtureRequest) -> Callable[[Path], Path]:
    """Both ways to the answer: each must accept, create and refuse alike."""
    way: Callable[[Path], Path] = request.param
    return way


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "-C", str(repo), *identity, *args], check=True, capture_output=True)


def repository(path: Path, *, commit: bool = True) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    if commit:
        git(path, "commit", "-q", "--allow-empty", "-m", "init")
    return path


def test_a_repository_with_a_commit_is_used_as_it_is(
    tmp_path: Path, prepare_workspace: Callable[[Path], Path]
) -> None:
    repo = repository(tmp_path / "repo")
    assert prepare_workspace(repo) == repo.resolve()


def test_a_missing_folder_becomes_a_repository_with_one_commit(
    tmp_path: Path, prepare_workspace: Callable[[Path], Path]
) -> None:
    ws = prepare_workspace(tmp_path / "new")
    head = subprocess.run(
        ["git", "-C", str(ws), "log", "--oneline"], capture_output=True, text=True
    )
    assert len(head.stdout.splitlines()) == 1


def test_a_folder_of_files_outside_git_is_refused(
    tmp_path: Path, prepare_workspace: Callable[[Path], Path]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="is not a git repository"):
        prepare_workspace(plain)


def test_a_repository_without_commits_is_refused(
    tmp_path: Path, prepare_workspace: Callable[[Path], Path]
) -> None:
    repo = repository(tmp_path / "repo", commit=False)
    (repo / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="without commits"):
        prepare_workspace(repo)


def test_a_folder_inside_a_repository_is_refused(
    tmp_path: Path, prepare_workspace: Callable[[Path], Path]
) -> None:
    repo = repository(tmp_path / "repo")
    sub = repo / "sub"
    sub.mkdir()
    (sub / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="is inside the git repository"):
        prepare_workspace(sub)


def test_a_file_is_refused(tmp_path: Path, prepare_workspace: Callable[[Path], Path]) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="is a file, not a directory"):
        prepare_workspace(tmp_path / "file")


def test_the_look_runs_git_as_it_starts_and_the_answer_takes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sf pipeline run`` starts it beside the validation: git runs then, not when the
    answer is asked for, and only once."""
    repo = repository(tmp_path / "repo")
    calls = tmp_path / "git-calls"
    real = shutil.which("git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    pending = start_workspace(repo)
    deadline = time.monotonic() + 30
    while not calls.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls.exists(), "git did not run before the answer was asked for"

    assert pending.result() == repo.resolve()
    assert len(calls.read_text().splitlines()) == 1


def answered(path: Path, toplevel: str) -> PendingWorkspace:
    """A look at ``path`` whose git said ``toplevel`` is the repository's top level."""
    said = subprocess.Popen(["printf", "%s\\n", toplevel], stdout=subprocess.PIPE, text=True)
    return PendingWorkspace(path.resolve(), said)


def kilroy_and_spec(tmp_path: Path, workspace: Path) -> tuple[Kilroy, RunSpec]:
    graph = tmp_path / "p.dot"
    graph.write_text("digraph p {}\n")
    kilroy = Kilroy(KilroyBinary(Path("/kilroy"), "v0.1.0"), Settings(home=tmp_path / "home"))
    spec = RunSpec(graph=graph, workspace=workspace, run_id="r1", run_dir=tmp_path / "r1")
    return kilroy, spec


def test_kilroy_start_takes_the_answer_of_the_look_it_is_given(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    (repo / "file").write_text("x")
    kilroy, spec = kilroy_and_spec(tmp_path, repo)
    with pytest.raises(WorkspaceError, match="is inside the git repository /elsewhere"):
        kilroy.start(spec, workspace=answered(repo, "/elsewhere"))


def test_kilroy_start_refuses_a_look_at_another_workspace(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    kilroy, spec = kilroy_and_spec(tmp_path, repo)
    other = start_workspace(tmp_path / "other")
    with pytest.raises(ValueError, match="other"):
        kilroy.start(spec, workspace=other)
    assert not (tmp_path / "r1").exists(), "nothing is written"
