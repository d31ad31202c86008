"""CustomResourceDefinitions for Product and Run, generated from the models.

Kubernetes only accepts *structural* schemas (OpenAPI v3.0, no references, a
type on every node) while pydantic emits JSON Schema 2020-12. ``schema``
rewrites one into the other (``structural_schema``), ``rules`` proves the
result acceptable before an API server sees it (``structural_problems``), and
``definitions`` wraps it in a CRD with names, printer columns and the status
subresource (``build_crd``). ``factoryos.codegen`` writes the CRDs to
``crds/``; a Kubernetes store can take plural names from ``RESOURCE_TYPES``.
"""

from factoryos.crd.definitions import (
    PRODUCTS,
    RESOURCE_TYPES,
    RUNS,
    PrinterColumn,
    ResourceType,
    build_crd,
    build_crds,
    openapi_schema,
)
from factoryos.crd.rules import structural_problems
from factoryos.crd.schema import structural_schema

__all__ = [
    "PRODUCTS",
    "RESOURCE_TYPES",
    "RUNS",
    "PrinterColumn",
    "ResourceType",
    "build_crd",
    "build_crds",
    "openapi_schema",
    "structural_problems",
    "structural_schema",
]
