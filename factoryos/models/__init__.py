"""The Factory OS resources, ``Product`` and ``Run`` (``factoryos.dev/v1alpha1``).

These pydantic models are the single source of truth: ``factoryos.crd`` turns
them into the CRDs (``make crds``), the stores persist them, the reconcile
functions read specs and compute statuses, and the adapters load them from
YAML with ``parse_resource``/``load_resources``. Python names are snake_case;
the wire format is camelCase, as in Kubernetes (both spellings are accepted on
input). Dump with ``dump_resource`` (or ``model_dump(mode="json")``).
"""

from factoryos.models.fields import DnsLabel
from factoryos.models.loading import (
    RESOURCE_KINDS,
    Resource,
    dump_resource,
    load_resources,
    parse_as,
    parse_resource,
)
from factoryos.models.meta import (
    Condition,
    ConditionStatus,
    ConditionType,
    ObjectMeta,
    OwnerReference,
)
from factoryos.models.problems import problems_from
from factoryos.models.product import (
    Acceptance,
    AcceptanceMethod,
    AgentProfile,
    Deploy,
    Engine,
    HoldoutSource,
    Isolation,
    ObjectRef,
    Product,
    ProductPhase,
    ProductSpec,
    ProductStatus,
    RepoSource,
    Service,
    Sidedness,
    TrialsKind,
    VerifierCommand,
    VerifierKind,
    Verifiers,
)
from factoryos.models.run import (
    Artifact,
    ArtifactKind,
    CandidatePhase,
    CandidateStatus,
    DesiredState,
    Evaluation,
    GpuNeeds,
    OcPoint,
    Run,
    RunPhase,
    RunSpec,
    RunStatus,
    Selection,
    SelectionStrategy,
    StageState,
    StageStatus,
    VerifierResult,
)

__all__ = [
    "RESOURCE_KINDS",
    "Acceptance",
    "AcceptanceMethod",
    "AgentProfile",
    "Artifact",
    "ArtifactKind",
    "CandidatePhase",
    "CandidateStatus",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "Deploy",
    "DesiredState",
    "DnsLabel",
    "Engine",
    "Evaluation",
    "GpuNeeds",
    "HoldoutSource",
    "Isolation",
    "ObjectMeta",
    "ObjectRef",
    "OcPoint",
    "OwnerReference",
    "Product",
    "ProductPhase",
    "ProductSpec",
    "ProductStatus",
    "RepoSource",
    "Resource",
    "Run",
    "RunPhase",
    "RunSpec",
    "RunStatus",
    "Selection",
    "SelectionStrategy",
    "Service",
    "Sidedness",
    "StageState",
    "StageStatus",
    "TrialsKind",
    "VerifierCommand",
    "VerifierKind",
    "VerifierResult",
    "Verifiers",
    "dump_resource",
    "load_resources",
    "parse_as",
    "parse_resource",
    "problems_from",
]
