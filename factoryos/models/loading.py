"""Loading Products and Runs from plain data or YAML, with one clear line per problem.

The stores, ``sf`` and the dashboard's API call these; every failure is a
``ValidationFailedError`` whose message names the resource and whose
``problems`` list every finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

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
    """Every resource in a YAML stream (documents separated by ``---``; empty ones skipped).

    Stricter than YAML itself: a key given twice in one mapping is refused (YAML
    would keep the last one silently), and so is nesting deeper than ``MAX_DEPTH``.
    """
    try:
        documents = [d for d in yaml.load_all(text, Loader=StrictLoader) if d is not None]
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{_prefix(source)}not valid YAML: {yaml_problem(error)}") from None
    except RecursionError:
        raise InvalidInputError(f"{_prefix(source)}{TOO_DEEP}") from None
    for document in documents:
        if _depth(document) > MAX_DEPTH:
            raise InvalidInputError(f"{_prefix(source)}{TOO_DEEP}")
    many = len(documents) > 1
    return [
        parse_resource(document, source=_document_source(source, index) if many else source)
        for index, document in enumerate(documents, start=1)
    ]


#: How deep a resource may nest (ours go about 6 levels deep).
MAX_DEPTH = 64
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


#: libyaml's safe loader where PyYAML has it (100 times faster on big files, and it
#: refuses nesting deeper than 1000 levels itself), else the pure-Python one.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader says so itself
                continue
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {describe(key)}", mark
                )
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (line and column, from 1)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        what = " ".join(part for part in (error.context, error.problem) if part) or "invalid"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return " ".join(f"{what}{where}".split())
    return " ".join(str(error).split())


def _depth(document: Any) -> int:
    """How deep ``document`` nests (a scalar: 0), without recursing."""
    deepest, stack = 0, [(document, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


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
    elif not isinstance(kind, str) or kind not in RESOURCE_KINDS:
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
