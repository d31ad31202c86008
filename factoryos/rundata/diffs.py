"""A stage's change: the diff of the commit Kilroy made after that stage.

Kilroy commits the worktree after every node ("attractor(<run_id>): <node>
(<status>)", the run id being the candidate's ``c<i>``), on the candidate's
branch in ``c<i>/repo``. A stage's diff is that commit against its parent;
when a stage ran more than once (retries, resume) the latest commit counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from factoryos.git import git

#: The biggest diff shown (a stage that rewrote a vendored tree is cut here).
MAX_DIFF_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class FileChange:
    """One file a stage changed, with ``git diff --numstat`` counts (None for binary)."""

    path: str
    added: int | None
    deleted: int | None


@dataclass(frozen=True)
class StageDiff:
    """The unified diff of one stage's commit."""

    commit: str
    subject: str
    patch: str
    files: list[FileChange]
    truncated: bool

    @property
    def added(self) -> int:
        return sum(f.added or 0 for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f.deleted or 0 for f in self.files)


def stage_diff(repo: Path, branch: str, candidate: int, node: str) -> StageDiff | None:
    """The diff of ``node``'s latest commit on ``branch``; None if it has none (yet)."""
    if not (repo / ".git").exists():
        return None
    log = git(repo, "log", "--format=%H%x09%s", branch, "--")
    if log.returncode != 0:
        return None
    pattern = re.compile(rf"^attractor\(c{candidate}\): {re.escape(node)} \(")
    for line in log.stdout.splitlines():
        sha, _, subject = line.partition("\t")
        if pattern.match(subject):
            return _diff_of(repo, sha, subject)
    return None


def _diff_of(repo: Path, sha: str, subject: str) -> StageDiff:
    parent = (
        f"{sha}^"
        if git(repo, "rev-parse", "-q", "--verify", f"{sha}^").returncode == 0
        else (_EMPTY_TREE)
    )
    patch = git(repo, "diff", "--no-color", "--no-ext-diff", "-M", parent, sha).stdout
    numstat = git(repo, "diff", "--numstat", "-M", parent, sha).stdout
    files = []
    for line in numstat.splitlines():
        added, deleted, path = line.split("\t", 2)
        files.append(
            FileChange(
                path,
                None if added == "-" else int(added),
                None if deleted == "-" else int(deleted),
            )
        )
    truncated = len(patch) > MAX_DIFF_BYTES
    return StageDiff(sha, subject, patch[:MAX_DIFF_BYTES], files, truncated)


#: git's empty tree: the parent of a root commit.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
