"""The CustomResourceDefinitions of Product and Run, built from the pydantic models.

Pure functions, no I/O: ``python -m factoryos.codegen crds`` writes their
output to ``crds/`` and a unit test fails when the files drift from the models.
A Kubernetes store can take plural names from ``RESOURCE_TYPES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from factoryos.crd.schema import Schema, structural_schema
from factoryos.models import Product, Run
from factoryos.version import API_GROUP, API_VERSION


@dataclass(frozen=True)
class PrinterColumn:
    """One column of ``kubectl get`` (``additionalPrinterColumns``)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    """0: always shown; 1: only with ``-o wide``."""

    def to_dict(self) -> dict[str, Any]:
        """The CRD form of this column."""
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
PHASE = PrinterColumn("Phase", "string", ".status.phase")


@dataclass(frozen=True)
class ResourceType:
    """What the CRD of one resource model needs besides the model itself."""

    model: type[Product] | type[Run]
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]

    @property
    def kind(self) -> str:
        """The ``kind``: the model's class name."""
        return self.model.__name__

    @property
    def singular(self) -> str:
        """The singular resource name (lowercase kind)."""
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        """``<plural>.<group>``, the CRD's own ``metadata.name``."""
        return f"{self.plural}.{API_GROUP}"


# Short names: "fp"/"fprod" and "fr"/"frun" collide with no built-in kind
# (po, pv, pvc, rs, rc, ...) and keep Factory OS objects apart from other
# operators' "run"/"pr" short names (Tekton uses pr, tr).
PRODUCTS = ResourceType(
    model=Product,
    plural="products",
    short_names=("fp", "fprod"),
    columns=(
        PHASE,
        PrinterColumn("Repo", "string", ".spec.repo.url", "Git remote"),
        PrinterColumn("Path", "string", ".spec.repo.path", "Local clone", priority=1),
        PrinterColumn("Branch", "string", ".spec.branch"),
        AGE,
    ),
)
RUNS = ResourceType(
    model=Run,
    plural="runs",
    short_names=("fr", "frun"),
    columns=(
        PHASE,
        PrinterColumn("Product", "string", ".spec.productRef.name"),
        PrinterColumn(
            "Lower Bound", "number", ".status.evaluation.lowerBound", "the gate's exact lower bound"
        ),
        PrinterColumn("Desired", "string", ".spec.desiredState", priority=1),
        AGE,
    ),
)
RESOURCE_TYPES = (PRODUCTS, RUNS)
#: ``kubectl get factoryos`` lists every Factory OS object.
CATEGORY = "factoryos"


def openapi_schema(model: type[BaseModel]) -> Schema:
    """The structural openAPIV3Schema of a resource model (Product or Run).

    ``apiVersion`` and ``kind`` are plain strings (as kubebuilder writes them)
    and ``metadata`` is left to the API server.
    """
    schema = structural_schema(model.model_json_schema(mode="validation"))
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string", "description": "APIVersion of this object."}
    properties["kind"] = {"type": "string", "description": "Kind of this object."}
    properties["metadata"] = {"type": "object"}
    schema["required"] = [name for name in schema.get("required", []) if name != "metadata"]
    return schema


def build_crd(resource: ResourceType) -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of ``resource``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.crd_name},
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": list(resource.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_dict() for c in resource.columns],
                    "schema": {"openAPIV3Schema": openapi_schema(resource.model)},
                }
            ],
        },
    }


def build_crds() -> list[dict[str, Any]]:
    """The CRDs of every Factory OS resource, Product first."""
    return [build_crd(resource) for resource in RESOURCE_TYPES]
