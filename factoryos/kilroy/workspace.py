"""The git repository a run works on: prepared before ``run``, checked before ``resume``.

Kilroy v0.1.0 needs a git repository with at least one commit (it branches
from HEAD and adds a worktree under logs_root), and ``attractor resume``
refuses a repository with uncommitted changes. ``Kilroy.start`` calls
``prepare_workspace`` (or takes the ``PendingWorkspace`` it is given);
``Kilroy.resume`` calls ``check_clean``.

``start_workspace`` starts the one git command the checks need and returns at once;
``PendingWorkspace.result`` waits for it and checks. ``sf pipeline run`` starts it
beside Kilroy's validation, so that its ~5 ms are not on the way to Kilroy's spawn.
This module imports only what starting it takes (see ``factoryos.kilroy.quick``):
what makes a new repository is loaded when one is made.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from factoryos.errors import ToolMissingError, WorkspaceError

__all__ = ["PendingWorkspace", "check_clean", "prepare_workspace", "start_workspace"]

#: One git for both questions: the top-level is printed first, then HEAD's commit, which
#: --verify -q turns into exit status 1 (no output) when there is none.
_REV_PARSE = ("rev-parse", "--show-toplevel", "--verify", "-q", "HEAD")


def prepare_workspace(path: Path) -> Path:
    """The absolute top-level of a usable repository at ``path``, creating one when needed.

    A missing or empty directory becomes a new repository with one empty commit.
    A directory with files that is not a repository, a subdirectory of another
    repository, or a repository without commits is a ``WorkspaceError``.
    """
    return start_workspace(path).result()


def start_workspace(path: Path) -> PendingWorkspace:
    """``prepare_workspace`` started: git looks at ``path`` (a directory with files) while
    the caller goes on; ``result()`` checks its answer. Nothing is created before then."""
    path = path.expanduser().resolve()
    proc: subprocess.Popen[str] | OSError | None = None
    if path.is_dir() and any(path.iterdir()):
        try:
            proc = subprocess.Popen(
                ["git", "-C", str(path), *_REV_PARSE],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:  # raised by ``result``, where the checks are
            proc = exc
    return PendingWorkspace(path, proc)


class PendingWorkspace:
    """A workspace being looked at: ``result`` is ``prepare_workspace``'s answer."""

    def __init__(self, path: Path, proc: subprocess.Popen[str] | OSError | None) -> None:
        #: The workspace, absolute, links resolved.
        self.path = path
        self._proc = proc

    def result(self) -> Path:
        """The absolute top-level of a usable repository (made here when the directory is
        missing or empty), or ``WorkspaceError``/``ToolMissingError`` as ``prepare_workspace``."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"workspace {path} is a file, not a directory")
        if not path.exists() or not any(path.iterdir()):
            _init(path)
            return path
        top = self._rev_parse()
        found = top.stdout.splitlines()
        if top.returncode not in (0, 1) or not found:
            raise WorkspaceError(
                f"workspace {path} is not a git repository (and not empty): "
                "run `git init` and commit there, or choose another workspace"
            )
        toplevel = Path(found[0].strip())
        if toplevel.resolve() != path.resolve():
            raise WorkspaceError(
                f"workspace {path} is inside the git repository {toplevel}; "
                "give the repository's top-level directory"
            )
        if top.returncode != 0:
            raise WorkspaceError(
                f"workspace {path} is a git repository without commits; commit something first "
                "(Kilroy branches from HEAD)"
            )
        if not os.access(path / ".git", os.W_OK):
            raise WorkspaceError(f"workspace {path} is not writable (Kilroy adds a branch there)")
        return path

    def _rev_parse(self) -> subprocess.CompletedProcess[str]:
        """The started git's answer; a git run now where none was started (the directory
        had no files then)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return _git(self.path, *_REV_PARSE, check=False)
        if isinstance(proc, FileNotFoundError):
            raise ToolMissingError("git not found: install git (Kilroy needs it)") from proc
        if isinstance(proc, OSError):
            raise proc
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def check_clean(repo: Path) -> None:
    """Raise ``WorkspaceError`` when ``repo`` has uncommitted changes (resume needs it clean)."""
    status = _git(repo, "status", "--porcelain", check=False)
    if status.returncode != 0:
        raise WorkspaceError(f"cannot read git status of {repo}: {status.stderr.strip()}")
    changed = [line for line in status.stdout.splitlines() if line.strip()]
    if changed:
        raise WorkspaceError(
            f"workspace {repo} has {len(changed)} uncommitted change(s) and Kilroy refuses to "
            "resume on a dirty repository: commit or stash them first"
        )


def _init(path: Path) -> None:
    from factoryos.git import fallback_identity

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create workspace {path}: {exc.strerror}") from exc
    _git(path, "init", "-q")
    _git(
        path,
        *fallback_identity(path),
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "Initial commit (created by Factory OS)",
    )


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError("git not found: install git (Kilroy needs it)") from exc
    if check and proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        command = next(a for a in args if not a.startswith("-") and "=" not in a)
        raise WorkspaceError(
            f"git {command} failed in {repo}: {detail[-1] if detail else proc.returncode}"
        )
    return proc
