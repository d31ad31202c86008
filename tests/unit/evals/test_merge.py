"""Merging the accepted winner: a real git merge that never touches uncommitted work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.evals.merge import MergeError, merge_and_push, merge_winner

ID = ["-c", "user.name=t", "-c", "user.email=t@x.invalid"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *ID, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """A product repo (main: a.txt) and a candidate clone whose branch adds b.txt."""
    repo, clone = tmp_path / "product", tmp_path / "clone"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "factory/r/c0")
    (clone / "b.txt").write_text("new\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "candidate")
    return repo, clone


def test_the_winner_is_merged_into_the_checked_out_clean_branch(repos: tuple[Path, Path]) -> None:
    repo, clone = repos
    commit = merge_winner(repo, "main", clone, "factory/r/c0", "Merge factory/r/c0")
    assert git(repo, "rev-parse", "main").strip() == commit
    assert len(git(repo, "log", "-1", "--format=%P", "main").split()) == 2, "a merge commit"
    assert (repo / "b.txt").read_text() == "new\n", "the checkout moved with the branch"
    assert git(repo, "status", "--porcelain") == ""
    assert "factory/r/c0" in git(repo, "branch", "--list", "factory/*")


def test_uncommitted_work_is_never_touched(repos: tuple[Path, Path]) -> None:
    repo, clone = repos
    (repo / "a.txt").write_text("my work in progress\n")
    with pytest.raises(MergeError, match="uncommitted changes"):
        merge_winner(repo, "main", clone, "factory/r/c0", "m")
    assert (repo / "a.txt").read_text() == "my work in progress\n"
    assert not (repo / "b.txt").exists()


def test_a_branch_not_checked_out_is_merged_in_a_temporary_worktree(
    repos: tuple[Path, Path],
) -> None:
    repo, clone = repos
    git(repo, "checkout", "-q", "-b", "elsewhere")
    commit = merge_winner(repo, "main", clone, "factory/r/c0", "m")
    assert git(repo, "rev-parse", "main").strip() == commit
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "elsewhere"
    assert not (repo / "b.txt").exists(), "the user's checkout stays where it was"
    assert "merge" not in git(repo, "worktree", "list"), "the temporary worktree is gone"


def test_a_conflict_fails_with_the_paths_and_leaves_the_branch_alone(
    repos: tuple[Path, Path],
) -> None:
    repo, clone = repos
    (clone / "a.txt").write_text("candidate's line\n")
    git(clone, "commit", "-qam", "candidate edits a")
    (repo / "a.txt").write_text("someone else's line\n")
    git(repo, "commit", "-qam", "main moved on")
    before = git(repo, "rev-parse", "main")
    with pytest.raises(MergeError, match=r"conflicts: a\.txt"):
        merge_winner(repo, "main", clone, "factory/r/c0", "m")
    assert git(repo, "rev-parse", "main") == before
    assert git(repo, "status", "--porcelain") == "", "the merge was aborted"


def test_a_product_known_by_url_is_merged_in_the_clone_and_pushed(tmp_path: Path) -> None:
    bare, seed = tmp_path / "product.git", tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(seed)], check=True, capture_output=True)
    (seed / "a.txt").write_text("one\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "init")
    git(seed, "push", "-q", "origin", "HEAD:main")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", f"file://{bare}", str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "factory/r/c1")
    (clone / "b.txt").write_text("new\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "candidate")
    (seed / "c.txt").write_text("meanwhile\n")  # main moves on after the candidate branched
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "meanwhile")
    git(seed, "push", "-q", "origin", "HEAD:main")

    commit = merge_and_push(clone, "main", "factory/r/c1", "Merge factory/r/c1")

    assert git(bare, "rev-parse", "main").strip() == commit
    assert git(bare, "show", f"{commit}:b.txt") == "new\n" and git(bare, "show", f"{commit}:c.txt")
    assert git(bare, "rev-parse", "factory/r/c1").strip(), "the candidate's branch is pushed too"
    (clone / "b.txt").write_text("changed again\n")
    git(clone, "commit", "-qam", "more")
    git(seed, "pull", "-q", "origin", "main")
    (seed / "b.txt").write_text("conflicting\n")
    git(seed, "commit", "-qam", "conflict")
    git(seed, "push", "-q", "origin", "HEAD:main")
    with pytest.raises(MergeError, match=r"conflicts: b\.txt"):
        merge_and_push(clone, "main", "factory/r/c1", "again")
