"""Reading a Kilroy ``logs_root`` (the run's files), without Kilroy.

Used by the adapter (outcome, status fallback, stop, resume), the follower
and anything that shows a run (CLI, dashboard). Missing files are normal (a
run that is starting, a node that has not run) and read as ``None``; a
complete JSON file that does not parse is an ``EngineError`` naming the file.
``live.json`` is the exception: Kilroy overwrites it in place, so a torn read
is expected and also reads as ``None``.

``progress.ndjson`` is read by line number (1-based). A last line without its
newline is a write in progress and is left for the next read; ``ProgressTail``
keeps a byte offset so a follower reads only what was appended.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from factoryos.errors import EngineError, InvalidInputError

__all__ = ["LogsRoot", "NodeArtifact", "ProgressTail"]

PROGRESS_FILE = "progress.ndjson"
FINAL_FILE = "final.json"

#: Entries of a logs_root that are not stage directories.
_NOT_NODE_DIRS = {"worktree", "modeldb", "input_snapshot", "parallel", "outputs"}
_RESTART_DIR = re.compile(r"^restart-\d+$")
_SAFE_NODE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class NodeArtifact(NamedTuple):
    """One file a stage left in its directory (``name`` is relative, ``/``-separated)."""

    name: str
    path: Path
    size: int


class ProgressTail:
    """Incremental reader of ``progress.ndjson``: each ``read()`` returns only new lines."""

    def __init__(self, path: Path, after: int = 0) -> None:
        self.path = path
        self.line_no = 0  # number of the last complete line consumed
        self._offset = 0
        self._skip = after

    def read(self) -> list[tuple[int, dict[str, Any]]]:
        """New complete lines as ``(line_no, event)``, skipping blank and non-object lines."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise EngineError(f"cannot read {self.path}: {exc.strerror}") from exc
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        out: list[tuple[int, dict[str, Any]]] = []
        for raw in chunk[:end].split(b"\n"):
            self.line_no += 1
            if self.line_no <= self._skip or not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError as exc:
                raise EngineError(
                    f"{self.path}: line {self.line_no} is not valid JSON ({exc})"
                ) from exc
            if isinstance(event, dict):
                out.append((self.line_no, event))
        return out


class LogsRoot:
    """Read-only view of one Kilroy ``logs_root`` directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def worktree(self) -> Path:
        return self.path / "worktree"

    @property
    def progress_path(self) -> Path:
        return self.path / PROGRESS_FILE

    def manifest(self) -> dict[str, Any] | None:
        return self._json("manifest.json")

    def checkpoint(self) -> dict[str, Any] | None:
        return self._json("checkpoint.json")

    def final(self) -> dict[str, Any] | None:
        return self._json(FINAL_FILE)

    def run_config(self) -> dict[str, Any] | None:
        return self._json("run_config.json")

    def stop_request(self) -> dict[str, Any] | None:
        return self._json("stop_request.json")

    def live(self) -> dict[str, Any] | None:
        """The last progress event; ``None`` when absent or caught mid-write (not atomic)."""
        try:
            return self._json("live.json")
        except EngineError:
            return None

    def progress(self, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """Complete progress events with line number above ``after``."""
        return ProgressTail(self.progress_path, after).read()

    def progress_line_count(self) -> int:
        """The number of complete lines in ``progress.ndjson`` (0 when absent)."""
        try:
            data = self.progress_path.read_bytes()
        except FileNotFoundError:
            return 0
        return data.count(b"\n")

    def run_pid(self) -> int | None:
        """The pid in ``run.pid``, or None when absent or not a positive integer."""
        try:
            raw = (self.path / "run.pid").read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return int(raw) if raw.isdigit() and int(raw) > 0 else None

    def node_status(self, node_id: str) -> dict[str, Any] | None:
        """The stage's ``status.json`` (its outcome), or None when it has not run."""
        return self._json(f"{_checked_node_id(node_id)}/status.json")

    def node_dirs(self) -> list[str]:
        """Node ids that have a stage directory, in the order they first started."""
        if not self.path.is_dir():
            return []
        found = {
            entry.name
            for entry in self.path.iterdir()
            if entry.is_dir()
            and entry.name not in _NOT_NODE_DIRS
            and not _RESTART_DIR.match(entry.name)
            and any(entry.iterdir())
        }
        order: list[str] = []
        for _, event in self.progress():
            node = event.get("node_id")
            if event.get("event") == "stage_attempt_start" and node in found and node not in order:
                order.append(node)
        return order + sorted(found - set(order))

    def node_artifacts(self, node_id: str) -> list[NodeArtifact]:
        """Every file in the stage directory (``stdout.log``, ``diff.patch``, ``attempt_1/...``)."""
        stage = self.path / _checked_node_id(node_id)
        if not stage.is_dir():
            return []
        return [
            NodeArtifact(name=p.relative_to(stage).as_posix(), path=p, size=p.stat().st_size)
            for p in sorted(stage.rglob("*"))
            if p.is_file()
        ]

    def _json(self, name: str) -> dict[str, Any] | None:
        path = self.path / name
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise EngineError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise EngineError(f"{path} is not valid JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise EngineError(f"{path} does not hold a JSON object")
        return value


def _checked_node_id(node_id: str) -> str:
    if not _SAFE_NODE_ID.match(node_id) or node_id in {".", ".."}:
        raise InvalidInputError(f"not a node id: {node_id!r}")
    return node_id
