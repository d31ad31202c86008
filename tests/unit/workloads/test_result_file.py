"""``result.json``: a workload's result, or none; a file no writer of ours makes reads as none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from factoryos.workloads import WorkloadResult, WorkloadStatus, read_result, write_result


def test_a_written_result_reads_back(tmp_path: Path) -> None:
    result = WorkloadResult(status=WorkloadStatus.SUCCEEDED, finished_at=datetime.now(UTC))
    write_result(tmp_path, result)
    assert read_result(tmp_path) == result


@pytest.mark.parametrize("text", ["", '{"status": "succ', "not json\n"])
def test_an_empty_or_torn_result_is_no_result(tmp_path: Path, text: str) -> None:
    """Left by a full disk: the launcher then treats the runner as gone, and it is retried."""
    (tmp_path / "result.json").write_text(text)
    assert read_result(tmp_path) is None


def test_no_file_is_no_result(tmp_path: Path) -> None:
    assert read_result(tmp_path) is None
