"""How a workload ended: ``WorkloadResult`` in ``result.json`` and in the process exit status.

The runner (or the evaluation) writes the result last; launchers read it back,
or infer it from the exit status when the process left none (a Job whose pod
was killed), and the controller folds it into Run status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from factoryos.workloads.rundir import RESULT_FILE


class WorkloadStatus(StrEnum):
    """How a workload ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the pipeline failed: a result, not an infrastructure problem
    INVALID = "invalid"  # bad input (pipeline, repository, branch): retrying cannot help
    STOPPED = "stopped"  # stopped on request; resumable
    ERROR = "error"  # infrastructure failure; retried up to the Run's backoffLimit


#: Process exit status for each result.
EXIT_CODES = {
    WorkloadStatus.SUCCEEDED: 0,
    WorkloadStatus.FAILED: 1,
    WorkloadStatus.INVALID: 2,
    WorkloadStatus.STOPPED: 3,
    WorkloadStatus.ERROR: 4,
}


@dataclass(frozen=True)
class Holdup:
    """Why a workload that should run has not started: its pod waits (a cluster's view).

    ``reason`` is CamelCase, the platform's own word where it has one
    (``ImagePullBackOff``, ``Unschedulable``); ``stuck`` says waiting cannot fix it
    (the run is Stalled until someone acts) rather than waiting for a resource.
    """

    reason: str
    message: str
    stuck: bool


class WorkloadResult(BaseModel):
    """``result.json``: written by the runner as its last act."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: WorkloadStatus
    reason: str | None = None
    failed_node: str | None = None
    run_branch: str | None = None
    finished_at: datetime

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @classmethod
    def from_exit_code(cls, code: int, reason: str) -> WorkloadResult:
        """The result a launcher infers when the runner left no result file."""
        by_code = {v: k for k, v in EXIT_CODES.items()}
        status = by_code.get(code, WorkloadStatus.ERROR)
        return cls(status=status, reason=reason, finished_at=datetime.now(UTC))


def read_result(workload_dir: Path) -> WorkloadResult | None:
    """The workload's result, or None while it has not finished (or left only an unreadable
    file, which no writer of ours makes: the launcher then finds the runner gone, and the
    workload is retried like any that left no result)."""
    try:
        return WorkloadResult.model_validate_json((workload_dir / RESULT_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def write_result(workload_dir: Path, result: WorkloadResult) -> None:
    """Write ``result.json`` atomically (a reader sees all of it or nothing)."""
    workload_dir.mkdir(parents=True, exist_ok=True)
    tmp = workload_dir / f".{RESULT_FILE}.tmp"
    tmp.write_text(result.model_dump_json(exclude_none=True) + "\n")
    tmp.replace(workload_dir / RESULT_FILE)
