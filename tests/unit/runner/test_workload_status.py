"""How a Kilroy invocation's end becomes a workload's status: a full disk is retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.kilroy import RunOutcome
from factoryos.runner.build import workload_status
from factoryos.runner.pipeline import RunReport
from factoryos.workloads import WorkloadStatus


def _report(status: str, reason: str | None = None, stopped: bool = False) -> RunReport:
    outcome = RunOutcome(status, reason, None, None, 0 if status == "success" else 1)  # type: ignore[arg-type]
    return RunReport("c0", outcome, Path("logs"), Path("events"), None, stopped)


@pytest.mark.parametrize(
    ("report", "status"),
    [
        (_report("success"), WorkloadStatus.SUCCEEDED),
        (_report("fail", "exit status 3"), WorkloadStatus.FAILED),
        (_report("fail", "stopped by signal terminated", stopped=True), WorkloadStatus.STOPPED),
        (
            _report("fail", "write logs/input_snapshot/.tmp-1.json: no space left on device"),
            WorkloadStatus.ERROR,
        ),
        (_report("fail", "[Errno 28] No space left on device"), WorkloadStatus.ERROR),
    ],
)
def test_a_full_disk_is_the_machines_fault_not_the_pipelines(
    report: RunReport, status: WorkloadStatus
) -> None:
    assert workload_status(report) is status
