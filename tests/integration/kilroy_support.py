"""Helpers shared by the Kilroy integration tests (pipelines written on the fly, git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from factoryos.kilroy.procs import MARKER_ENV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pipelines"
SCRIPTED_AGENT = EXAMPLES / "agents" / "scripted-agent"


def pipeline(folder: Path, name: str, steps: dict[str, str], goal: str = "test") -> Path:
    """A linear pipeline start -> steps... -> exit, each failure routed to a failing sink."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"digraph {name.replace('-', '_')} {{",
        f'  graph [goal="{goal}", default_max_retry="0"]',
        "  start [shape=Mdiamond]",
        "  exit [shape=Msquare]",
        '  fail_sink [shape=parallelogram, tool_command="exit 1"]',
    ]
    names = list(steps)
    for node, command in steps.items():
        escaped = command.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  {node} [shape=parallelogram, tool_command="{escaped}"]')
    lines.append(f"  start -> {names[0]}")
    for a, b in zip(names, [*names[1:], "exit"], strict=True):
        lines.append(f"  {a} -> {b}")
        lines.append(f'  {a} -> fail_sink [condition="outcome!=success"]')
    lines.append("}")
    path = folder / f"{name}.dot"
    path.write_text("\n".join(lines) + "\n")
    return path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def live_group_members(pgid: int) -> list[int]:
    """Processes in process group ``pgid`` that are not zombies (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


def sweepers(logs_root: Path) -> list[int]:
    """Pids of the sweepers (``factoryos.kilroy.sweeper``) of the run in ``logs_root``."""
    marker = f"{MARKER_ENV}={logs_root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in cmdline and any(part.endswith(b"sweeper.py") for part in cmdline):
            found.append(int(entry.name))
    return found
