"""The ``Product`` resource: a git repository plus how to build, verify and gate it.

Products are declared by people (``sf product add``, ``kubectl apply``, GitOps)
and read by the reconcile functions, the runner and the eval harness; only the
controller writes ``status``. Defaults live here, so they also appear in the
CRD schema and the API server applies them: the controller never patches spec.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from factoryos.models._base import (
    DEFAULTED_OBJECT,
    ApiModel,
    CelRule,
    Explained,
    KeyedList,
    OneOfModel,
)
from factoryos.models.agents import (
    MODEL_RULE,
    UNKNOWN_MODEL,
    AgentChoice,
    Credential,
    Provider,
)
from factoryos.models.fields import (
    AbsolutePath,
    ApiVersion,
    BranchName,
    CandidateCount,
    DnsLabel,
    EnvVarName,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
    RelativePath,
)
from factoryos.models.meta import Conditions, ObjectMeta
from factoryos.version import GROUP_VERSION

#: A significance level, in (0, 1).
ErrorLevel = Annotated[float, Field(gt=0, lt=1), Explained("must be between 0 and 1 (exclusive)")]
#: A required pass rate, in (0, 1].
PassRate = Annotated[float, Field(gt=0, le=1), Explained("must be greater than 0 and at most 1")]


class RepoSource(OneOfModel):
    """Where the product's git repository lives: a ``url`` to clone or a local ``path``."""

    one_of: ClassVar[tuple[str, ...]] = ("url", "path")

    url: NonEmptyStr | None = None
    """A git remote (https://, ssh://, git@host:owner/repo); cloned for each run."""
    path: AbsolutePath | None = None
    """An existing local clone (local mode, or a path on a mounted volume)."""


class VerifierCommand(ApiModel):
    """One deterministic check, run in a candidate's worktree; exit status 0 passes."""

    name: NonEmptyStr
    """Unique within its kind; shown in status and events."""
    command: NonEmptyStr
    """A shell command line, run with the worktree as working directory."""
    timeout_seconds: PositiveInt = 600


VerifierList = Annotated[list[VerifierCommand], KeyedList("name")]


class VerifierKind(StrEnum):
    """The kinds of deterministic verifier, in the order they run."""

    TYPECHECK = "typecheck"
    LINT = "lint"
    UNIT = "unit"
    INTEGRATION = "integration"


class Verifiers(ApiModel):
    """The deterministic screen: every command of every kind must pass."""

    typecheck: VerifierList = Field(default_factory=list)
    lint: VerifierList = Field(default_factory=list)
    unit: VerifierList = Field(default_factory=list)
    integration: VerifierList = Field(default_factory=list)

    def by_kind(self) -> dict[VerifierKind, list[VerifierCommand]]:
        """The commands of each kind, in run order."""
        return {kind: list(getattr(self, kind.value)) for kind in VerifierKind}


class ObjectRef(ApiModel):
    """A reference to an object in the same namespace, by name."""

    name: DnsLabel


class HoldoutSource(OneOfModel):
    """Where the hidden holdout scenarios are read from; never inline content.

    Only the eval harness reads them: they are never mounted into or copied to
    a candidate's worktree or pod. The source holds both the selection pool and
    the acceptance pool, in the layout the eval harness defines.
    """

    one_of: ClassVar[tuple[str, ...]] = ("path", "secret_ref", "config_map_ref", "volume_claim_ref")

    path: AbsolutePath | None = None
    """A local directory (local mode)."""
    secret_ref: ObjectRef | None = None
    """A Secret whose keys are scenario files."""
    config_map_ref: ObjectRef | None = None
    """A ConfigMap whose keys are scenario files."""
    volume_claim_ref: ObjectRef | None = None
    """A PersistentVolumeClaim holding the scenario directory."""


class Sidedness(StrEnum):
    """Which Clopper-Pearson bound the gate uses."""

    ONE_SIDED = "one-sided"
    TWO_SIDED = "two-sided"


class AcceptanceMethod(StrEnum):
    """How the gate plans and decides (docs/statistics.md)."""

    SEQUENTIAL = "sequential"
    """A group-sequential test: looks at planned trial counts, early acceptance and rejection."""
    CLOPPER_PEARSON = "clopper-pearson"
    """A fixed number of trials; accept when the Clopper-Pearson lower bound reaches the target."""


class TrialsKind(StrEnum):
    """What an acceptance trial is, so what the gate's statement bounds."""

    DISTINCT = "distinct"
    """Each trial is a distinct scenario instance: the bound is on the pass rate over the
    scenario population; a pool smaller than the plan stalls the run (InsufficientScenarios)."""
    REPEATED = "repeated"
    """Instances may repeat: the bound is on the per-attempt reliability of a nondeterministic
    system over the instances the pool has, not on unseen inputs."""


POWER_ABOVE_TARGET = "powerAt must be above target"


class Acceptance(ApiModel):
    """The statistical merge gate: accept iff the test shows the target and verifiers pass."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: CelRule(
            "!has(self.powerAt) || self.powerAt > self.target",
            POWER_ABOVE_TARGET,
            tested=("power_at",),
        )(schema)
    )

    alpha: ErrorLevel = 0.05
    """The false-accept rate: a candidate below the target is accepted at most this often
    (split evenly across the run's iterations)."""
    target: PassRate = 0.98
    """The pass rate the gate must show."""
    sided: Sidedness = Sidedness.ONE_SIDED
    """two-sided spends alpha/2 (the Clopper-Pearson interval's convention)."""
    method: AcceptanceMethod = AcceptanceMethod.SEQUENTIAL
    power: Annotated[float, Field(gt=0, lt=1), Explained("must be between 0 and 1 (exclusive)")] = (
        0.9
    )
    """How often a candidate as good as ``powerAt`` must be accepted (both methods plan for it)."""
    power_at: PassRate | None = None
    """The true pass rate ``power`` is planned at; default 1 - (1 - target) / 4 (0.995 at 0.98)."""
    trials: TrialsKind = TrialsKind.DISTINCT

    @model_validator(mode="after")
    def _power_above_target(self) -> Acceptance:
        if self.power_at is not None and self.power_at <= self.target:
            raise PydanticCustomError("power_at_above_target", POWER_ABOVE_TARGET)
        return self


class Service(ApiModel):
    """How the eval harness runs a candidate as a service, for http holdout scenarios."""

    command: NonEmptyStr
    """A shell command run in the candidate's checkout; it must listen on ``$PORT``."""
    ready_path: Annotated[str, Field(pattern=r"^/"), Explained("must start with /")] = "/"
    """A path that answers once the service is up."""
    start_timeout_seconds: PositiveInt = 60
    """How long the service gets to answer ``readyPath`` (a build on first start counts)."""


class Deploy(ApiModel):
    """How the product is deployed (``sf product deploy``)."""

    dry_run: bool = True
    """Only show what would be deployed: a real deploy is refused until this is false."""
    command: NonEmptyStr | None = None
    """The deploy script, run in a fresh checkout of the branch: a dry run as given
    (it builds, validates and writes ``deploy-plan.json``), a real deploy with
    ``--deploy`` appended."""
    credentials: Annotated[list[EnvVarName], KeyedList()] = Field(default_factory=list)
    """Names of environment variables a real deploy needs (tokens, deploy keys);
    passed to a real deploy only, never to a dry run; values never live here."""


class AgentProfile(StrEnum):
    """Kilroy's ``llm.cli_profile``."""

    REAL = "real"
    TEST_SHIM = "test_shim"


EXECUTABLE_NEEDS_SHIM = "agentExecutable is only allowed with agentProfile test_shim"
SHIM_SPEAKS_CODEX = "agentProfile test_shim stands in for codex: provider must be openai"


class Engine(AgentChoice):
    """How the runner invokes Kilroy for this product, and which agent runs its agent nodes."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _engine_rules(schema))

    agent_profile: AgentProfile = AgentProfile.REAL
    """``test_shim`` runs agent nodes through ``agentExecutable`` instead of an LLM."""
    agent_executable: AbsolutePath | None = None
    """The stand-in agent CLI (Kilroy accepts it only with the test_shim profile)."""
    stage_timeout_seconds: PositiveInt | None = None
    pass_env: Annotated[list[EnvVarName], KeyedList()] = Field(default_factory=list)
    """Names of environment variables passed through to Kilroy; values never live here."""
    image: NonEmptyStr | None = None
    """On a cluster, the image of this product's runner Jobs (Kilroy, git and the tools its
    pipeline runs); default: the operator's ``FACTORYOS_RUNNER_IMAGE``. Ignored locally."""
    credential: Credential | None = None
    """Where the provider's key comes from (default: the provider's own variable locally)."""

    @model_validator(mode="after")
    def _executable_needs_test_shim(self) -> Engine:
        if self.agent_executable is not None and self.agent_profile is not AgentProfile.TEST_SHIM:
            raise PydanticCustomError("executable_needs_shim", EXECUTABLE_NEEDS_SHIM)
        if self.unknown_models():
            raise PydanticCustomError("unknown_model", UNKNOWN_MODEL)
        if self.agent_profile is AgentProfile.TEST_SHIM and self.provider not in (
            None,
            Provider.OPENAI,
        ):
            raise PydanticCustomError("shim_speaks_codex", SHIM_SPEAKS_CODEX)
        return self


def _engine_rules(schema: dict[str, Any]) -> None:
    CelRule(MODEL_RULE, UNKNOWN_MODEL, tested=("model", "base_url"))(schema)
    CelRule(
        "!has(self.agentExecutable) || self.agentProfile == 'test_shim'",
        EXECUTABLE_NEEDS_SHIM,
        tested=("agent_executable",),
    )(schema)
    CelRule(
        "self.agentProfile != 'test_shim' || !has(self.provider) || self.provider == 'openai'",
        SHIM_SPEAKS_CODEX,
        tested=("provider",),
    )(schema)


class Isolation(StrEnum):
    """How strictly a product's candidates must be kept from what they must not see."""

    PREFERRED = "preferred"
    """Sandbox each candidate where the platform can; where it cannot, the candidates run
    anyway and the factory says so (``sf up``, each Run's ``Isolated`` condition)."""
    REQUIRED = "required"
    """Runs refuse to start where candidates cannot be sandboxed (Stalled,
    ``IsolationUnavailable``)."""


class ProductSpec(ApiModel):
    """The desired state of a product."""

    repo: RepoSource
    branch: BranchName = "main"
    """The branch winners are merged into."""
    pipeline: RelativePath = "pipeline.dot"
    """The Attractor DOT pipeline, a path inside the repository."""
    verifiers: Verifiers = Field(default_factory=Verifiers, json_schema_extra=DEFAULTED_OBJECT)
    holdouts: HoldoutSource | None = None
    acceptance: Acceptance = Field(default_factory=Acceptance, json_schema_extra=DEFAULTED_OBJECT)
    service: Service | None = None
    """How to serve a candidate for http holdout scenarios (none: command scenarios only)."""
    candidates: CandidateCount = 1
    """K, the candidate branches built per run (a Run may override it)."""
    concurrency: PositiveInt = 1
    """How many runs of this product may be active at once."""
    deploy: Deploy = Field(default_factory=Deploy, json_schema_extra=DEFAULTED_OBJECT)
    engine: Engine = Field(default_factory=Engine, json_schema_extra=DEFAULTED_OBJECT)
    isolation: Isolation = Isolation.PREFERRED
    """Whether a candidate's Kilroy and everything it starts must run where the holdouts,
    the factory's secrets and other candidates are out of sight: ``preferred`` or
    ``required``. On a cluster every candidate is a pod with its own volume."""


class ProductPhase(StrEnum):
    """A one-word summary of the product for people; conditions carry the detail."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


class ProductStatus(ApiModel):
    """The observed state of a product; written only by the controller."""

    phase: ProductPhase | None = None
    conditions: Conditions = Field(default_factory=list)
    observed_generation: NonNegativeInt | None = None
    last_run: DnsLabel | None = None
    """The name of the most recently created Run of this product."""
    active_runs: Annotated[list[DnsLabel], KeyedList()] = Field(default_factory=list)
    """Names of the runs of this product that have not finished."""


class Product(ApiModel):
    """A software product Factory OS builds: a git repository plus its factory config."""

    api_version: ApiVersion = GROUP_VERSION
    kind: Literal["Product"] = "Product"
    metadata: ObjectMeta
    spec: ProductSpec
    status: ProductStatus = Field(default_factory=ProductStatus)
