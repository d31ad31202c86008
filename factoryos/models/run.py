"""The ``Run`` resource: one attempt to reach a goal on a product, and its progress.

A Run is created by ``sf run start``, the dashboard or ``kubectl create``; its
spec says what to build and how hard to try, and stop/resume are spec changes
(``desiredState``). The controller alone writes ``status``, folding in the
runner's stage summaries, the verifier results and the gate decision; the
CLI, the dashboard and GitOps health checks read it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from factoryos.models._base import DEFAULTED_OBJECT, ApiModel, Explained, KeyedList
from factoryos.models.agents import RunAgent
from factoryos.models.fields import (
    ApiVersion,
    CandidateCount,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
    RelativePath,
    UnitInterval,
)
from factoryos.models.meta import Conditions, ObjectMeta
from factoryos.models.product import (
    AcceptanceMethod,
    ObjectRef,
    Sidedness,
    TrialsKind,
    VerifierKind,
)
from factoryos.version import GROUP_VERSION


class SelectionStrategy(StrEnum):
    """How the best of the screened candidates is picked on the selection pool."""

    SEQUENTIAL_HALVING = "sequential-halving"
    TOURNAMENT = "tournament"
    PAIRED_ELIMINATION = "paired-elimination"


class Selection(ApiModel):
    """Candidate selection on the holdout selection pool (never the acceptance pool)."""

    strategy: SelectionStrategy = SelectionStrategy.SEQUENTIAL_HALVING
    eta: Annotated[int, Field(ge=2), Explained("must be at least 2")] = 2
    """Keep 1/eta of the survivors after each round (2: halving)."""
    rounds: PositiveInt | None = None
    """Number of rounds; unset means ceil(log_eta(survivors))."""
    trials_per_round: PositiveInt = 32
    """Fresh scenarios each surviving candidate runs per round (paired across candidates)."""
    max_trials: PositiveInt = 200
    """paired-elimination: the most scenarios one candidate runs (the full pool)."""
    delta: Annotated[float, Field(gt=0, lt=1), Explained("must be between 0 and 1 (exclusive)")] = (
        0.1
    )
    """paired-elimination: the most probability of eliminating the truly best candidate early
    when its odds of passing are at least 1.7 times each rival's (theta 0.63; closer rivals
    are not covered)."""


class DesiredState(StrEnum):
    """``spec.desiredState``: stop and resume are spec changes the controller carries out."""

    RUNNING = "Running"
    STOPPED = "Stopped"


class GpuNeeds(ApiModel):
    """Which stages need a GPU node (nodeSelector, tolerations and limits on their Jobs)."""

    voice: bool = False
    """Voice stages (speech-to-text, text-to-speech models)."""
    eval: bool = False
    """Holdout evaluation."""


class RunSpec(ApiModel):
    """The desired state of a run."""

    product_ref: ObjectRef
    """The Product (same namespace) this run builds."""
    goal: NonEmptyStr
    """What the run should achieve, in words; handed to the pipeline as its goal."""
    pipeline: RelativePath | None = None
    """A pipeline path inside the repository, instead of the product's."""
    candidates: CandidateCount | None = None
    """K for this run; unset means the product's ``spec.candidates``."""
    selection: Selection = Field(default_factory=Selection, json_schema_extra=DEFAULTED_OBJECT)
    max_iterations: PositiveInt = 3
    """Build-screen-evaluate-gate rounds before the run fails (each learns from the last)."""
    desired_state: DesiredState = DesiredState.RUNNING
    gpu: GpuNeeds = Field(default_factory=GpuNeeds, json_schema_extra=DEFAULTED_OBJECT)
    active_deadline_seconds: PositiveInt | None = None
    """Fail the run when it has been active this long."""
    backoff_limit: NonNegativeInt = 2
    """Retries of a failed runner workload (infrastructure failure) before its candidate fails."""
    engine: RunAgent | None = None
    """This run's agent: provider, model, backend, baseUrl or per-class models over the
    product's ``spec.engine`` (credentials stay the product's)."""


class RunPhase(StrEnum):
    """Where the run is in its life; the last three are final."""

    PENDING = "Pending"
    BUILDING = "Building"
    SCREENING = "Screening"
    EVALUATING = "Evaluating"
    GATING = "Gating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        """True for Succeeded, Failed and Stopped."""
        return self in {RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.STOPPED}


class StageState(StrEnum):
    """The state of one pipeline stage (a DOT node) in one candidate."""

    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class StageStatus(ApiModel):
    """Progress of one pipeline stage of one candidate, in the current iteration."""

    candidate: NonNegativeInt = 0
    """Index of the candidate whose pipeline ran the stage."""
    name: NonEmptyStr
    """The DOT node id."""
    status: StageState = StageState.PENDING
    attempt: PositiveInt = 1
    max_attempts: PositiveInt | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    failure_reason: str | None = None


class VerifierResult(ApiModel):
    """The outcome of one verifier command on one candidate."""

    kind: VerifierKind
    name: NonEmptyStr
    passed: bool
    exit_code: int | None = None
    duration_seconds: Annotated[float, Field(ge=0), Explained("must be 0 or more")] | None = None
    message: str | None = None


class CandidatePhase(StrEnum):
    """Where one candidate branch is: built, screened, evaluated, and how it ended."""

    PENDING = "Pending"
    BUILDING = "Building"
    BUILT = "Built"
    """Its pipeline succeeded; waiting for the screen."""
    SCREENING = "Screening"
    SCREENED_OUT = "ScreenedOut"
    EVALUATING = "Evaluating"
    ELIMINATED = "Eliminated"
    WINNER = "Winner"
    FAILED = "Failed"


class CandidateStatus(ApiModel):
    """One of the K candidate branches of the current iteration."""

    index: NonNegativeInt
    """0 to K-1; the branch is ``factory/<run>/c<index>``."""
    branch: NonEmptyStr
    phase: CandidatePhase = CandidatePhase.PENDING
    verifiers: Annotated[list[VerifierResult], KeyedList("kind", "name")] = Field(
        default_factory=list
    )
    score: UnitInterval | None = None
    """Pass rate on the selection pool so far (passes / trials)."""
    trials: NonNegativeInt | None = None
    passes: NonNegativeInt | None = None
    screened_out_reason: str | None = None
    """Why the deterministic screen dropped this candidate."""


class OcPoint(ApiModel):
    """One point of the gate's operating characteristic."""

    rate: UnitInterval
    """A true pass rate."""
    accept: UnitInterval
    """The probability that the gate accepts a candidate of that rate (exact)."""


class Evaluation(ApiModel):
    """The gate decision on the winner, scored on the acceptance pool."""

    candidate: NonNegativeInt | None = None
    """Index of the gated candidate."""
    n: NonNegativeInt
    """Acceptance trials counted (distinct instances, unless trials are repeated)."""
    k: NonNegativeInt
    """Acceptance trials passed."""
    lower_bound: UnitInterval
    """The exact lower confidence bound of the pass rate (Clopper-Pearson for the fixed
    plan; the stagewise bound for the sequential test)."""
    target: UnitInterval
    alpha: UnitInterval
    sided: Sidedness = Sidedness.ONE_SIDED
    accepted: bool
    reason: str | None = None
    method: AcceptanceMethod = AcceptanceMethod.CLOPPER_PEARSON
    looks_taken: NonNegativeInt | None = None
    """Looks at which the test decided whether to stop (the last one decided)."""
    looks_planned: NonNegativeInt | None = None
    max_trials: NonNegativeInt | None = None
    """The most trials the plan could need."""
    instances: NonNegativeInt | None = None
    """Distinct scenario instances the acceptance pool holds."""
    trials_kind: TrialsKind = TrialsKind.DISTINCT
    flaky: NonNegativeInt | None = None
    """Instances run more than once whose outcomes differed (repeated trials only)."""
    oc: list[OcPoint] = Field(default_factory=list)
    """The operating characteristic: the acceptance probability against the true rate."""

    def describe(self) -> str:
        """The decision in one line, as ``sf run status`` and the demo print it."""
        verdict = "accepted" if self.accepted else "rejected"
        sequential = self.method is AcceptanceMethod.SEQUENTIAL
        how = "sequential test" if sequential else "fixed Clopper-Pearson plan"
        if self.looks_taken:
            of = f" of {self.looks_planned}" if self.looks_planned else ""
            how += f", decided at look {self.looks_taken}{of}"
        if self.trials_kind is TrialsKind.REPEATED:
            flaky = f", {self.flaky} flaky" if self.flaky is not None else ""
            what = (
                f"attempts over {self.instances} repeated instance(s){flaky}: a bound on "
                "per-attempt reliability"
            )
        elif self.instances is not None:
            what = f"each a distinct instance, of {self.instances} in the pool"
        else:
            what = ""
        what = f" ({what})" if what else ""
        return (
            f"{verdict} c{self.candidate}: {self.k}/{self.n} acceptance trials passed{what}; "
            f"lower bound {self.lower_bound:.4f} vs target {self.target} "
            f"(alpha {self.alpha:.3g}, {how})"
        )

    @model_validator(mode="after")
    def _k_at_most_n(self) -> Evaluation:
        if self.k > self.n:
            raise PydanticCustomError("k_above_n", "k must not exceed n")
        return self


class ArtifactKind(StrEnum):
    """What an artifact file is, so the dashboard knows how to show it."""

    LOG = "log"
    DIFF = "diff"
    EVALUATION = "evaluation"
    REPORT = "report"
    CHECKPOINT = "checkpoint"
    OTHER = "other"


class Artifact(ApiModel):
    """A file a run produced, kept in its run directory."""

    name: NonEmptyStr
    path: RelativePath
    """Relative to the run directory."""
    kind: ArtifactKind = ArtifactKind.OTHER


class RunStatus(ApiModel):
    """The observed state of a run; written only by the controller, once per pass."""

    phase: RunPhase | None = None
    conditions: Conditions = Field(default_factory=list)
    observed_generation: NonNegativeInt | None = None
    iteration: PositiveInt | None = None
    """The current build-screen-evaluate-gate round, from 1."""
    stages: Annotated[list[StageStatus], KeyedList("candidate", "name")] = Field(
        default_factory=list
    )
    candidates: Annotated[list[CandidateStatus], KeyedList("index")] = Field(default_factory=list)
    evaluation: Evaluation | None = None
    artifacts: Annotated[list[Artifact], KeyedList("name")] = Field(default_factory=list)
    start_time: datetime | None = None
    completion_time: datetime | None = None
    message: str | None = None
    """The latest human-readable summary, e.g. the failure reason."""


class Run(ApiModel):
    """One attempt to reach a goal on a product: K candidates, screening, selection, a gate."""

    api_version: ApiVersion = GROUP_VERSION
    kind: Literal["Run"] = "Run"
    metadata: ObjectMeta
    spec: RunSpec
    status: RunStatus = Field(default_factory=RunStatus)
