"""Object metadata and status conditions, as the Kubernetes API conventions define them.

``ObjectMeta`` and ``Condition`` are shared by ``Product`` and ``Run``: the
stores read and write metadata, the reconcile functions write conditions.
Name rules are in ``factoryos.models.fields``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from factoryos.models._base import ApiModel, Explained, KeyedList
from factoryos.models.fields import DnsLabel, NonNegativeInt

# The patterns metav1.Condition is validated with (k8s.io/apimachinery), so a
# condition we write is one the API server accepts.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

ConditionTypeName = Annotated[
    str,
    Field(pattern=CONDITION_TYPE_PATTERN, max_length=316),
    Explained("must be a CamelCase condition type such as Ready", value_first=True),
]
ConditionReason = Annotated[
    str,
    Field(pattern=CONDITION_REASON_PATTERN, max_length=1024),
    Explained("must be one CamelCase word such as PipelineMissing", value_first=True),
]


class OwnerReference(ApiModel):
    """An object this one belongs to; deleting the owner garbage-collects it."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(ApiModel):
    """The ``metadata`` of a Product or Run (a subset of Kubernetes' ObjectMeta)."""

    name: DnsLabel
    """Unique within the namespace and kind; an RFC 1123 label (see ``fields``)."""
    namespace: DnsLabel = "default"
    generate_name: str | None = None
    """Set by a client that let the server pick the name; kept only for round trips."""
    uid: str | None = None
    resource_version: str | None = None
    """Opaque; a write carrying a stale value fails (optimistic concurrency)."""
    generation: NonNegativeInt | None = None
    """Bumped by the store on every spec change; compare with ``status.observedGeneration``."""
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: Annotated[list[str], KeyedList()] = Field(default_factory=list)
    owner_references: Annotated[list[OwnerReference], KeyedList("uid")] = Field(
        default_factory=list
    )
    managed_fields: list[dict[str, Any]] | None = None
    """Server-side apply bookkeeping from a Kubernetes API server; never interpreted."""


class ConditionStatus(StrEnum):
    """The three values of ``Condition.status``."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """The condition types Factory OS sets (kstatus-compatible)."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SUCCEEDED = "Succeeded"
    #: A Run's candidates run in a sandbox (the holdouts and the factory's secrets unseen).
    ISOLATED = "Isolated"


class Condition(ApiModel):
    """One aspect of an object's observed state (``metav1.Condition``)."""

    type: ConditionTypeName
    """CamelCase, an adjective or past tense: Ready, Reconciling, Stalled, Succeeded."""
    status: ConditionStatus
    reason: ConditionReason
    """One CamelCase word a program can switch on."""
    message: str = Field(default="", max_length=32768)
    """A sentence for people."""
    last_transition_time: datetime
    """When ``status`` last changed (not when the condition was last written)."""
    observed_generation: NonNegativeInt | None = None
    """The ``metadata.generation`` this condition was computed from."""


#: ``status.conditions``: unique by type (a list-map keyed by ``type`` in the CRD).
Conditions = Annotated[list[Condition], KeyedList("type")]
