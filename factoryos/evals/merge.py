"""Merging an accepted winner into the product branch: a real ``git merge``.

A product with a local repository (``repo.path``) is merged there
(``merge_winner``); a product known by URL is merged in the winner's clone and
pushed (``merge_and_push``), with the credentials git finds in the
evaluation's environment.

For a local repository, the winner's branch is fetched from the candidate's clone into the product
repository (so it stays there, named ``factory/<run>/c<i>``), then merged with
``--no-ff`` into the product branch. If that branch is checked out in the
repository's working tree, the merge happens there, and only when the tree
is clean (a person's uncommitted work is never touched); otherwise it happens
in a temporary worktree. A conflict aborts the merge and fails with the
conflicting paths; the product branch is left as it was.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from factoryos.errors import ConflictError
from factoryos.git import git

IDENTITY = ["-c", "user.name=Factory OS", "-c", "user.email=factory@factoryos.invalid"]


class MergeError(ConflictError):
    """The winner could not be merged; the message says why."""


def merge_winner(repo: Path, branch: str, source: Path, candidate_branch: str, message: str) -> str:
    """Merge ``candidate_branch`` (from the clone ``source``) into ``branch``; the new commit."""
    fetched = git(
        repo, "fetch", "--no-tags", str(source),
        f"+refs/heads/{candidate_branch}:refs/heads/{candidate_branch}",
    )  # fmt: skip
    if fetched.returncode != 0:
        raise MergeError(f"cannot fetch {candidate_branch}: {fetched.stderr.strip()}")
    current = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip()
    if current == branch:
        if git(repo, "status", "--porcelain", "--untracked-files=no").stdout.strip():
            raise MergeError(
                f"{repo} has uncommitted changes on {branch}; commit or stash them, "
                "then resume the run"
            )
        return _merge_in(repo, candidate_branch, message)
    with tempfile.TemporaryDirectory(prefix="factoryos-merge-") as tmp:
        worktree = Path(tmp) / "merge"
        added = git(repo, "worktree", "add", "--quiet", str(worktree), branch)
        if added.returncode != 0:
            raise MergeError(f"cannot check out {branch}: {added.stderr.strip()}")
        try:
            return _merge_in(worktree, candidate_branch, message)
        finally:
            git(repo, "worktree", "remove", "--force", str(worktree))


def merge_and_push(
    clone: Path, branch: str, candidate_branch: str, message: str, remote: str = "origin"
) -> str:
    """For a product known by URL: merge in the candidate's clone and push both branches.

    The product branch is fetched fresh, the merge is made in a temporary
    worktree of the clone, and the merge commit is pushed as the new tip of
    ``branch`` (with the candidate's branch beside it). A push the remote
    refuses (someone pushed meanwhile, no permission) fails with git's reason.
    """
    fetched = git(
        clone, "fetch", "--no-tags", remote,
        f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
    )  # fmt: skip
    if fetched.returncode != 0:
        raise MergeError(f"cannot fetch {branch} from {remote}: {_last_line(fetched.stderr)}")
    with tempfile.TemporaryDirectory(prefix="factoryos-merge-") as tmp:
        worktree = Path(tmp) / "merge"
        added = git(clone, "worktree", "add", "--quiet", "--detach", str(worktree),
                    f"{remote}/{branch}")  # fmt: skip
        if added.returncode != 0:
            raise MergeError(f"cannot check out {branch}: {_last_line(added.stderr)}")
        try:
            commit = _merge_in(worktree, candidate_branch, message)
        finally:
            git(clone, "worktree", "remove", "--force", str(worktree))
    pushed = git(
        clone, "push", "--quiet", remote, f"{commit}:refs/heads/{branch}",
        f"refs/heads/{candidate_branch}:refs/heads/{candidate_branch}",
    )  # fmt: skip
    if pushed.returncode != 0:
        raise MergeError(f"cannot push {branch} to {remote}: {_last_line(pushed.stderr)}")
    return commit


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no reason given"


def _merge_in(worktree: Path, candidate_branch: str, message: str) -> str:
    merged = git(worktree, *IDENTITY, "merge", "--no-ff", "-m", message, candidate_branch)
    if merged.returncode != 0:
        conflicts = git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split()
        git(worktree, "merge", "--abort")
        detail = ", ".join(conflicts) or merged.stderr.strip() or merged.stdout.strip()
        raise MergeError(f"merging {candidate_branch} conflicts: {detail}")
    return git(worktree, "rev-parse", "HEAD").stdout.strip()
