"""The files of a control-plane run directory, named in one place.

``$FACTORYOS_HOME/runs/<namespace>/<run>/`` (on a cluster, the run's volume)::

    events.ndjson              the run's one event log (every candidate appends)
    c<i>/repo/                 candidate i's clone of the product repository
    c<i>/logs/                 candidate i's Kilroy logs_root (checkpoints, final.json)
    evaluations/i<n>/          iteration n's evaluation: evaluation.json (the versioned
                               report), report.md, verifier logs, candidate checkouts
    workloads/<name>/          one workload, <run>-c<i>-<attempt> (build) or
                               <run>-e<n>-<attempt> (evaluation):
        spec.json              what to run (written by the launcher)
        process.json           the local process (pid, start time; LocalProcessLauncher)
        output.log             the runner's stdout and stderr
        result.json            how it ended (written by the runner, last)

The launcher writes the spec, the runner the events and the result; the
controller reads them all and writes Run status. Part of the workload
contract (``factoryos.workloads``): the launchers, the runner, the evaluation
and the controller all name these paths from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

#: The run's one event log, in the run directory.
EVENTS_FILE = "events.ndjson"
#: Kilroy's logs_root inside a candidate's folder (``factoryos.kilroy.layout.LOGS_DIR``,
#: which a unit test keeps equal: the contracts sit below the Kilroy adapter).
LOGS_DIR = "logs"
SPEC_FILE = "spec.json"
PROCESS_FILE = "process.json"
OUTPUT_FILE = "output.log"
RESULT_FILE = "result.json"


def workload_name(run: str, candidate: int, attempt: int) -> str:
    """The deterministic name of a build workload: ``<run>-c<i>-<attempt>``."""
    return f"{run}-c{candidate}-{attempt}"


def evaluation_name(run: str, iteration: int, attempt: int) -> str:
    """The deterministic name of an evaluation workload: ``<run>-e<iteration>-<attempt>``."""
    return f"{run}-e{iteration}-{attempt}"


def parse_workload_name(name: str) -> tuple[str, int, int]:
    """``<run>-c<i>-<a>`` -> ("build", i, a); ``<run>-e<n>-<a>`` -> ("evaluate", n, a)."""
    head, _, attempt = name.rpartition("-")
    _, _, last = head.rpartition("-")
    kind = {"c": "build", "e": "evaluate"}.get(last[:1])
    if kind is None or not last[1:].isdigit() or not attempt.isdigit():
        raise ValueError(f"not a workload name: {name!r}")
    return kind, int(last[1:]), int(attempt)


def candidate_branch(run: str, candidate: int) -> str:
    """The branch candidate ``candidate`` of ``run`` is built on: ``factory/<run>/c<i>``."""
    return f"factory/{run}/c{candidate}"


class RunDirectory(NamedTuple):
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

    def evaluation(self, iteration: int) -> Path:
        """Iteration ``iteration``'s evaluation: its report, verifier logs, checkouts."""
        return self.path / "evaluations" / f"i{iteration}"

    @property
    def workloads(self) -> Path:
        return self.path / "workloads"

    def workload(self, name: str) -> Path:
        return self.workloads / name
