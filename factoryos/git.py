"""``git``: one way for the core to run a git command in a repository.

Output is captured as text (undecodable bytes replaced, so a binary diff never
raises); the exit status is the caller's to judge. A missing git is
``ToolMissingError``. Admission, the stage diffs and the winner's merge use it.
``fallback_identity`` lets a first commit succeed where git has no identity.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from factoryos.errors import ToolMissingError


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git -C repo args...``, captured, never raising on a non-zero exit."""
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError("git is not installed") from exc


#: Who commits when git has no identity configured (a fresh machine, a CI container).
FALLBACK_IDENTITY = ("Factory OS", "factoryos@localhost")


def fallback_identity(repo: Path) -> list[str]:
    """``-c user.name=... -c user.email=...`` of ``FALLBACK_IDENTITY`` when ``repo`` has no
    identity configured; nothing otherwise (the user's own identity is kept)."""
    if git(repo, "config", "user.email").returncode == 0:
        return []
    name, email = FALLBACK_IDENTITY
    return ["-c", f"user.name={name}", "-c", f"user.email={email}"]
