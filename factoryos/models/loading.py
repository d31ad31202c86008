"""Loading Products and Runs from plain data or YAML, with one clear line per problem.

The stores, ``sf`` and the dashboard's API call these; every failure is a
``ValidationFailedError`` whose message names the resource and whose
``problems`` list every finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from factoryos.errors import InvalidInputError, ValidationFailedError
from factoryos.models._base import ApiModel
from factoryos.models.problems import describe, problems_from
from factoryos.models.product import Product
from factoryos.models.run import Run
from factoryos.version import GROUP_VERSION

#: A Factory OS resource.
Resource = Product | Run
ModelT = TypeVar("ModelT", bound=ApiModel)

#: The resource models by ``kind``.
RESOURCE_KINDS: dict[str, type[Product] | type[Run]] = {"Product": Product, "Run": Run}
_EXPECTED_KINDS = " or ".join(RESOURCE_KINDS)


def parse_resource(document: Any, *, source: str = "") -> Resource:
    """The Product or Run that ``document`` (a parsed YAML/JSON object) describes.

    ``apiVersion`` and ``kind`` pick the model; ``source`` (a file name, say)
    prefixes the error message.
    """
    if not isinstance(document, Mapping):
        raise _invalid(source, "resource", [f"must be an object, got {describe(document)}"])
    problems = _kind_problems(document)
    if problems:
        raise _invalid(source, "resource", problems)
    return parse_as(RESOURCE_KINDS[document["kind"]], document, source=source)


def parse_as(model: type[ModelT], document: Mapping[str, Any], *, source: str = "") -> ModelT:
    """``document`` validated as ``model``: a resource of a known kind, or a part of one."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise _invalid(source, _describe_resource(model, document), problems_from(error)) from None


def load_resources(text: str, *, source: str = "") -> list[Resource]:
    """Every resource in a YAML stream (documents separated by ``---``; empty ones skipped)."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{_prefix(source)}not valid YAML: {error}") from None
    many = len(documents) > 1
    return [
        parse_resource(document, source=_document_source(source, index) if many else source)
        for index, document in enumerate(documents, start=1)
    ]


def dump_resource(resource: Resource) -> dict[str, Any]:
    """Plain data for JSON/YAML output and stores: camelCase keys, unset optionals left out."""
    return resource.model_dump(mode="json", by_alias=True, exclude_none=True)


def _kind_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    api_version = document.get("apiVersion")
    if api_version != GROUP_VERSION:
        got = "it is missing" if api_version is None else f"got {describe(api_version)}"
        problems.append(f"apiVersion must be {GROUP_VERSION}, {got}")
    kind = document.get("kind")
    if kind is None:
        problems.append(f"kind is required (expected {_EXPECTED_KINDS})")
    elif kind not in RESOURCE_KINDS:
        problems.append(f"unknown kind {describe(kind)} (expected {_EXPECTED_KINDS})")
    return problems


def _describe_resource(model: type[ApiModel], document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{model.__name__} {describe(name)}" if isinstance(name, str) else model.__name__


def _invalid(source: str, what: str, problems: list[str]) -> ValidationFailedError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = f"{_prefix(source)}invalid {what}: {problems[0]}{more}"
    return ValidationFailedError(message, problems)


def _prefix(source: str) -> str:
    return f"{source}: " if source else ""


def _document_source(source: str, index: int) -> str:
    return f"{source or '<input>'} (document {index})"
