"""A run given a validation started earlier (``sf pipeline run``'s) waits for that one, of
its own pipeline, before anything is written or started; a look at the workspace started
earlier goes to ``Kilroy.start``."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import ValidationFailedError
from factoryos.kilroy.quick import PendingValidation
from factoryos.kilroy.runspec import RunSpec
from factoryos.kilroy.validation import Diagnostic, FileValidation
from factoryos.kilroy.workspace import start_workspace
from factoryos.runner.pipeline import PipelineRunner


class NothingStarts:
    """A Kilroy that must not be asked for anything."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"Kilroy.{name} was used")


def spec(tmp_path: Path) -> RunSpec:
    return RunSpec(
        graph=tmp_path / "p.dot", workspace=tmp_path / "ws", run_id="r1", run_dir=tmp_path / "r1"
    )


def done(found: FileValidation) -> PendingValidation:
    return PendingValidation([found.file], [found], [], None, [])


def test_an_invalid_pipeline_starts_and_writes_nothing(tmp_path: Path) -> None:
    error = Diagnostic(rule="start_node", severity="ERROR", message="no start node")
    invalid = done(FileValidation(file=tmp_path / "p.dot", errors=[error]))
    runner = PipelineRunner(NothingStarts(), product="p")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailedError) as raised:
        runner.run(spec(tmp_path), validation=invalid)
    assert raised.value.problems == ["start_node: no start node"]
    assert list(tmp_path.iterdir()) == []


def test_a_validation_of_another_pipeline_is_refused(tmp_path: Path) -> None:
    other = done(FileValidation(file=tmp_path / "other.dot"))
    runner = PipelineRunner(NothingStarts(), product="p")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"other\.dot"):
        runner.run(spec(tmp_path), validation=other)


class RefusedError(Exception):
    """What the stand-in Kilroy raises once it has been asked to start."""


def test_a_workspace_looked_at_earlier_is_handed_to_kilroy(tmp_path: Path) -> None:
    """``sf pipeline run``'s look at the workspace, started beside the validation."""
    asked: list[dict[str, object]] = []

    class Starts:
        def start(self, spec: RunSpec, **options: object) -> None:
            asked.append(options)
            raise RefusedError

    valid = done(FileValidation(file=tmp_path / "p.dot"))
    look = start_workspace(tmp_path / "ws")
    runner = PipelineRunner(Starts(), product="p")  # type: ignore[arg-type]
    with pytest.raises(RefusedError):
        runner.run(spec(tmp_path), validation=valid, workspace=look)
    assert asked == [{"workspace": look}]
