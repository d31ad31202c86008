"""One chaos session: its budget (short in `make test`, full in `make chaos`), its seed, and
what the faults and verdicts read of the factory under test.

``FACTORYOS_CHAOS=full`` selects the full budget and ``FACTORYOS_CHAOS_SEED`` the seed
(default 21); the short budget keeps the whole session within about 30 s. A session is
one embedded factory (``factory_support.Factory``) with one product whose pipeline is
``stages`` tool nodes sleeping ``stage_seconds`` each; every fault gets runs of its own.
Called by ``test_chaos.py``, ``chaos_faults`` and ``chaos_verdicts``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from factory_support import Factory, children_of, home_processes

from factoryos.events import EventType
from factoryos.kilroy import LogsRoot

SEED_ENV, MODE_ENV = "FACTORYOS_CHAOS_SEED", "FACTORYOS_CHAOS"
DEFAULT_SEED = 21
PRODUCT = "chaos"
#: In a run's directory: the first stage may go on.
GO_FILE = "chaos-go"


@dataclass(frozen=True)
class Budget:
    """How hard and how long each fault is played."""

    name: str
    #: Runs per fault, started together.
    runs: int
    stages: int
    stage_seconds: float
    #: SIGKILLs of ``sf up`` (each followed by a new ``sf up``) in its fault.
    sf_up_kills: int
    #: How long the control plane stays SIGSTOPped.
    stop_seconds: float
    #: How long another process holds the store's write lock (``sf`` waits 30 s at most,
    #: from its first write: the full session holds it long enough to see it give up).
    lock_seconds: float
    #: How long FACTORYOS_HOME's file system stays full.
    fill_seconds: float
    #: A fault's runs must have finished this long after it was played.
    converge_seconds: float

    @property
    def pipeline(self) -> dict[str, str]:
        """Tool stages that sleep; the first waits for its run's ``GO_FILE`` (``release``),
        so a fault meets its runs running however long ``sf run start`` took."""
        stages = {f"s{i}": f"sleep {self.stage_seconds}" for i in range(1, self.stages + 1)}
        go = f'"$FACTORYOS_LOGS_ROOT/../../{GO_FILE}"'
        stages["s1"] = f"while [ ! -e {go} ]; do sleep 0.05; done; {stages['s1']}"
        return stages


SHORT = Budget("short", 1, 2, 0.5, 1, 4.0, 2.0, 1.5, 60.0)
FULL = Budget("full", 3, 5, 1.5, 3, 30.0, 45.0, 10.0, 300.0)


def budget_and_seed(env: Mapping[str, str]) -> tuple[Budget, int]:
    budget = FULL if env.get(MODE_ENV) == "full" else SHORT
    return budget, int(env.get(SEED_ENV) or DEFAULT_SEED)


@dataclass
class Session:
    """The factory under test and what every fault needs of it (thread-safe: the faults of
    a group are played at once)."""

    factory: Factory
    budget: Budget
    seed: int
    #: Why the disk fault cannot be played here (None when FACTORYOS_HOME is a small file system).
    no_small_fs: str | None
    #: The dashboard's port, the same for every ``sf up`` of the session.
    port: int

    def rng(self, fault: str) -> random.Random:
        """The fault's own randomness: the same moments for the same seed, whatever else
        is played at the same time."""
        return random.Random(f"{self.seed}:{fault}")

    def start_runs(self, slug: str) -> list[str]:
        names = [f"{slug}-{i}" for i in range(1, self.budget.runs + 1)]
        for name in names:
            self.factory.sf("run", "start", PRODUCT, "--goal", slug, "--name", name)
        return names

    def release(self, run: str) -> None:
        """Let the run's first stage go on (it waits for this)."""
        folder = self.factory.run_dir(run).path
        folder.mkdir(parents=True, exist_ok=True)
        (folder / GO_FILE).touch()

    def log_size(self) -> int:
        path = self.factory.root / "sf-up.log"
        return path.stat().st_size if path.exists() else 0

    def log_since(self, offset: int) -> str:
        """What ``sf up`` printed after byte ``offset`` of its output."""
        with (self.factory.root / "sf-up.log").open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def running_stages(self, run: str) -> set[str]:
        """Stages of ``run`` started and not completed, by its event log."""
        started: Counter[str] = Counter()
        for event in self.factory.events(run):
            if event.type == EventType.STAGE_STARTED and event.subject:
                started[event.subject] += 1
            elif event.type == EventType.STAGE_COMPLETED and event.subject:
                started[event.subject] -= 1
        return {stage for stage, open_ in started.items() if open_ > 0}

    def build_runner_pid(self, run: str) -> int:
        """The pid of the latest build workload of ``run``'s candidate 0."""
        workloads = self.factory.run_dir(run).workloads
        latest = max(
            (p for p in workloads.iterdir() if p.name.startswith(f"{run}-c0-")),
            key=lambda p: int(p.name.rsplit("-", 1)[1]),
        )
        return int(json.loads((latest / "process.json").read_text())["pid"])

    def kilroy_pid(self, run: str) -> int | None:
        return LogsRoot(self.factory.run_dir(run).logs_root(0)).run_pid()

    def strays(self) -> list[int]:
        """Processes of the factory's home other than ``sf up`` and its own helpers."""
        plane = self.factory.plane
        own = {plane.pid, *children_of(plane.pid)} if plane is not None else set()
        return [p for p in home_processes(self.factory.home) if p not in own]


def product_repo(factory: Factory, budget: Budget) -> Path:
    return factory.repo(PRODUCT, {"pipeline": budget.pipeline})
