"""The runner waits for an event log that cannot take an event (a full disk), for a while."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factoryos.errors import WorkspaceError
from factoryos.events import EventLog, EventRecord, EventType, run_source
from factoryos.runner import pipeline
from factoryos.runner.pipeline import PipelineRunner


class FullForAWhile(EventLog):
    """An event log on a disk that is full for the first ``refusals`` appends."""

    def __init__(self, path: Path, refusals: int) -> None:
        super().__init__(path, run_source("p", "r"))
        self.refusals = refusals

    def append_record(
        self, type: EventType | str, data: dict[str, Any] | None = None, **kw: Any
    ) -> EventRecord:
        if self.refusals > 0:
            self.refusals -= 1
            raise WorkspaceError(f"cannot append to the event log {self.path}: No space left")
        return super().append_record(type, data, **kw)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> PipelineRunner:
    monkeypatch.setattr(pipeline, "APPEND_RETRY_SECONDS", 0.0)
    return PipelineRunner(object(), product="p")  # type: ignore[arg-type]


def test_an_event_is_written_once_the_disk_has_room_again(
    runner: PipelineRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = FullForAWhile(tmp_path / "events.ndjson", refusals=3)
    runner._emit(log, EventType.LOG, {"line": "hello"})
    assert log.last_sequence() == 1
    assert "No space left; retrying for 60s" in capsys.readouterr().out


def test_it_gives_up_after_its_patience(
    runner: PipelineRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "APPEND_PATIENCE_SECONDS", 0.0)
    log = FullForAWhile(tmp_path / "events.ndjson", refusals=1000)
    with pytest.raises(WorkspaceError, match="No space left"):
        runner._emit(log, EventType.LOG, {"line": "hello"})
    assert log.last_sequence() == 0
