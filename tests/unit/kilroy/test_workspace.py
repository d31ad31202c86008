"""The workspace a run works on: what ``prepare_workspace`` accepts, creates and refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.errors import WorkspaceError
from factoryos.kilroy.workspace import prepare_workspace


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "-C", str(repo), *identity, *args], check=True, capture_output=True)


def repository(path: Path, *, commit: bool = True) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    if commit:
        git(path, "commit", "-q", "--allow-empty", "-m", "init")
    return path


def test_a_repository_with_a_commit_is_used_as_it_is(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    assert prepare_workspace(repo) == repo.resolve()


def test_a_missing_folder_becomes_a_repository_with_one_commit(tmp_path: Path) -> None:
    ws = prepare_workspace(tmp_path / "new")
    head = subprocess.run(
        ["git", "-C", str(ws), "log", "--oneline"], capture_output=True, text=True
    )
    assert len(head.stdout.splitlines()) == 1


def test_a_folder_of_files_outside_git_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="is not a git repository"):
        prepare_workspace(plain)


def test_a_repository_without_commits_is_refused(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", commit=False)
    (repo / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="without commits"):
        prepare_workspace(repo)


def test_a_folder_inside_a_repository_is_refused(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    sub = repo / "sub"
    sub.mkdir()
    (sub / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="is inside the git repository"):
        prepare_workspace(sub)
