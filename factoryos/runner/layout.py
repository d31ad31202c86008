"""The files of a control-plane run directory, named in one place.

``$FACTORYOS_HOME/runs/<namespace>/<run>/`` (on a cluster, the run's volume)::

    events.ndjson              the run's one event log (every candidate appends)
    c<i>/repo/                 candidate i's clone of the product repository
    c<i>/logs/                 candidate i's Kilroy logs_root (checkpoints, final.json)
    workloads/<name>/          one runner workload, <run>-c<i>-<attempt>:
        spec.json              what to run (written by the launcher)
        process.json           the local process (pid, start time; LocalProcessLauncher)
        output.log             the runner's stdout and stderr
        result.json            how it ended (written by the runner, last)

The launcher writes the spec, the runner the events and the result; the
controller reads them all and writes Run status.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factoryos.kilroy.layout import LOGS_DIR
from factoryos.runner.pipeline import EVENTS_FILE

SPEC_FILE = "spec.json"
PROCESS_FILE = "process.json"
OUTPUT_FILE = "output.log"
RESULT_FILE = "result.json"


def workload_name(run: str, candidate: int, attempt: int) -> str:
    """The deterministic name of a runner workload: ``<run>-c<i>-<attempt>``."""
    return f"{run}-c{candidate}-{attempt}"


def candidate_branch(run: str, candidate: int) -> str:
    """The branch candidate ``candidate`` of ``run`` is built on: ``factory/<run>/c<i>``."""
    return f"factory/{run}/c{candidate}"


@dataclass(frozen=True)
class RunDirectory:
    """Paths inside one run's directory."""

    path: Path

    @classmethod
    def of(cls, runs_dir: Path, namespace: str, run: str) -> RunDirectory:
        return cls(runs_dir / namespace / run)

    @property
    def events(self) -> Path:
        return self.path / EVENTS_FILE

    def candidate(self, index: int) -> Path:
        """Candidate ``index``'s directory; Kilroy's run_dir (logs_root is ``logs/`` in it)."""
        return self.path / f"c{index}"

    def repo(self, index: int) -> Path:
        return self.candidate(index) / "repo"

    def logs_root(self, index: int) -> Path:
        return self.candidate(index) / LOGS_DIR

    @property
    def workloads(self) -> Path:
        return self.path / "workloads"

    def workload(self, name: str) -> Path:
        return self.workloads / name
