"""``git``: one way for the core to run a git command in a repository.

Output is captured as text (undecodable bytes replaced, so a binary diff never
raises); the exit status is the caller's to judge. A missing git is
``ToolMissingError``. Admission, the stage diffs and the winner's merge use it.
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
