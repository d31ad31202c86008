"""``RunFiles``: read-only, confined access to the files of one run directory.

Every path a client names (an artifact to preview or download) is resolved
here and must stay inside the run directory after symlinks are followed;
anything else, a missing file included, is ``NotFoundError``, so a traversal
attempt looks exactly like a file that is not there. Holdouts never live in
a run directory, so nothing here can hand one out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from factoryos.errors import NotFoundError
from factoryos.kilroy.logsroot import LogsRoot
from factoryos.workloads import RunDirectory

#: How much of a text file a preview shows.
PREVIEW_BYTES = 256 * 1024
#: How many files a listing shows at most (a stage with thousands is unusual).
MAX_LISTED = 500
#: Reports a pipeline stage may publish into its log folder (``$KILROY_STAGE_LOGS_DIR``)
#: for people to see: the deploy dry run's plan, the public checks' results.
DEPLOY_PLAN = "deploy-plan.json"
PUBLISHED = (DEPLOY_PLAN, "public-checks.json")
#: The largest deploy plan read for its summary.
MAX_PLAN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    """One file in a run directory: its path relative to the run directory, and size."""

    path: str
    size: int

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


class RunFiles:
    """The files of one run directory, confined to it."""

    def __init__(self, run_dir: RunDirectory) -> None:
        self.run_dir = run_dir

    @property
    def root(self) -> Path:
        return self.run_dir.path

    def resolve(self, relative: str) -> Path:
        """The regular file at ``relative`` inside the run directory, or ``NotFoundError``."""
        pure = PurePosixPath(relative)
        if not relative or pure.is_absolute() or ".." in pure.parts or "\x00" in relative:
            raise NotFoundError(f"no file {relative!r} in this run")
        root = self.root.resolve()
        try:
            path = (root / pure).resolve(strict=True)
        except (OSError, RuntimeError):
            raise NotFoundError(f"no file {relative!r} in this run") from None
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFoundError(f"no file {relative!r} in this run")
        return path

    def stage_files(self, candidate: int, node: str) -> list[FileEntry]:
        """What Kilroy kept for stage ``node`` of a candidate (its ``logs_root/<node>/``)."""
        if not node or "/" in node or node in {".", ".."}:
            raise NotFoundError(f"no stage {node!r}")
        return self._listing(self.run_dir.logs_root(candidate) / node)

    def outputs(self, candidate: int) -> list[FileEntry]:
        """The pipeline's declared outputs that Kilroy copied out (``logs_root/outputs/``)."""
        return self._listing(self.run_dir.logs_root(candidate) / "outputs")

    def published(self, candidate: int) -> list[FileEntry]:
        """The reports (``PUBLISHED``) the candidate's stages wrote into their log folders,
        in stage order."""
        logs = self.run_dir.logs_root(candidate)
        found: list[FileEntry] = []
        for node in LogsRoot(logs).node_dirs():
            for name in PUBLISHED:
                relative = (logs / node / name).relative_to(self.root).as_posix()
                try:
                    path = self.resolve(relative)
                except NotFoundError:
                    continue
                found.append(FileEntry(relative, path.stat().st_size))
        return found

    def deploy_plan(self, published: list[FileEntry]) -> tuple[FileEntry, dict[str, Any]] | None:
        """The deploy plan among ``published`` (a candidate's, from ``published``) and its
        content, when a stage published a readable one."""
        for entry in reversed(published):  # the latest stage's
            if entry.name != DEPLOY_PLAN or entry.size > MAX_PLAN_BYTES:
                continue
            try:
                plan = json.loads(self.resolve(entry.path).read_text())
            except (OSError, ValueError, NotFoundError):
                continue
            if isinstance(plan, dict):
                return entry, plan
        return None

    def _listing(self, folder: Path) -> list[FileEntry]:
        root = self.root.resolve()
        try:
            base = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            return []
        if not base.is_relative_to(root) or not base.is_dir():
            return []
        found: list[FileEntry] = []
        for path in sorted(base.rglob("*")):
            if len(found) >= MAX_LISTED:
                break
            if path.is_symlink() or not path.is_file():
                continue
            found.append(FileEntry(path.relative_to(root).as_posix(), path.stat().st_size))
        return found

    def preview(self, relative: str) -> tuple[str | None, bool]:
        """The text of a file for display, and whether it was cut; None when it is binary."""
        path = self.resolve(relative)
        with path.open("rb") as fh:
            data = fh.read(PREVIEW_BYTES + 1)
        cut = len(data) > PREVIEW_BYTES
        data = data[:PREVIEW_BYTES]
        if b"\x00" in data:
            return None, cut
        try:
            return data.decode("utf-8"), cut
        except UnicodeDecodeError as exc:
            if cut and exc.start >= len(data) - 4:  # a character split by the cut
                return data[: exc.start].decode("utf-8"), cut
            return None, cut
