"""What one runner workload is told to do: ``WorkloadSpec``, written by a launcher as ``spec.json``.

A workload is one candidate's Kilroy run or resume (``build``), or one
iteration's evaluation (``evaluate``); the same spec reaches a local process
as a file and a Job's pod as an environment variable. Launchers write it,
``factoryos.worker`` reads it and hands it to the runner or the evaluation.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from factoryos.errors import InvalidInputError
from factoryos.models.agents import AgentChoice, Credential
from factoryos.models.product import Isolation
from factoryos.workloads.evaluation import EvaluationPlan
from factoryos.workloads.rundir import RunDirectory


class WorkloadKind(StrEnum):
    """What a workload does: build one candidate (Kilroy) or evaluate an iteration."""

    BUILD = "build"
    EVALUATE = "evaluate"


class WorkloadSpec(BaseModel):
    """Everything one runner workload needs; written by the launcher as ``spec.json``.

    For an evaluation workload (``kind: evaluate``) ``candidate`` is the
    iteration and ``evaluation`` says what to evaluate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: WorkloadKind = WorkloadKind.BUILD
    evaluation: EvaluationPlan | None = None
    #: The run's trace context (W3C traceparent), when tracing is on.
    traceparent: str | None = None

    name: str
    namespace: str
    product: str
    run: str
    candidate: int
    attempt: int
    run_dir: Path
    repo_path: Path | None = None
    repo_url: str | None = None
    branch: str = "main"
    pipeline: str = "pipeline.dot"
    goal: str
    agent_profile: str = "real"
    agent_executable: Path | None = None
    #: Which agent runs the agent nodes: the product's engine with the run's override over it.
    agent: AgentChoice | None = None
    #: Where the agent's key comes from (a reference: a variable name, a Secret and key).
    credential: Credential | None = None
    stage_timeout_seconds: float | None = None
    pass_env: list[str] = []
    #: The runner Job's image on a cluster (None: the launcher's default).
    image: str | None = None
    grace_seconds: float = 5.0
    heartbeat_seconds: float | None = 10.0
    #: The product's ``spec.isolation``.
    isolation: Isolation = Isolation.PREFERRED
    #: Run Kilroy and everything it starts (a build), or the candidate's code (an
    #: evaluation), in a local sandbox (bubblewrap): set by the local launcher where one
    #: works, never on a cluster (a pod is the candidate's own).
    sandbox: bool = False

    @property
    def layout(self) -> RunDirectory:
        return RunDirectory(self.run_dir)

    @property
    def branch_prefix(self) -> str:
        """Kilroy names the run branch ``<prefix>/<run id>``: ``factory/<run>/c<i>``."""
        return f"factory/{self.run}"

    @property
    def run_id(self) -> str:
        return f"c{self.candidate}"


def load_spec(path: Path) -> WorkloadSpec:
    try:
        return parse_spec(path.read_text())
    except FileNotFoundError as exc:
        raise InvalidInputError(f"workload spec {path} not found") from exc


def parse_spec(text: str) -> WorkloadSpec:
    try:
        return WorkloadSpec.model_validate(json.loads(text))
    except ValueError as exc:
        raise InvalidInputError(f"invalid workload spec: {exc}") from exc
