"""Checking that a schema is one the API server accepts as a CRD's openAPIV3Schema.

``structural_problems`` lists every violation of the structural-schema rules
and of the v1 CRD validation that goes with them; the CRD tests assert it
finds none in what ``factoryos.crd.definitions`` produces.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from typing import Any

from factoryos.crd.schema import KEPT_KEYWORDS

JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
#: The string formats the API server validates (k8s.io/kube-openapi strfmt).
FORMATS = frozenset(
    {
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac",
        "uuid", "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard",
        "ssn", "hexcolor", "rgbcolor", "byte", "password", "date", "duration",
        "datetime", "date-time", "int32", "int64", "float", "double",
    }
)  # fmt: skip
#: Keys a node inside allOf/anyOf/oneOf/not must not set (structural rule 3).
_NOT_IN_JUNCTORS = ("type", "description", "default", "additionalProperties", "nullable")
_UNTYPED_OK = ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields")


def structural_problems(schema: Mapping[str, Any]) -> list[str]:
    """Why the API server would reject ``schema`` as a CRD's openAPIV3Schema, one per line.

    Checks the structural rules (a type on every node, no ``$ref``/``$defs``,
    no types or defaults inside ``anyOf``/``oneOf``/``allOf``/``not``,
    ``properties`` and ``additionalProperties`` never together,
    ``metadata`` left to Kubernetes) and the v1 validation that goes with
    them (only OpenAPI v3.0 keywords, boolean ``exclusiveMinimum``, known
    formats, defaults that fit, list-map keys that are required or defaulted).
    An empty list means the schema is fine.
    """
    problems = [f"(root): {p}" for p in _root_problems(schema)]
    for path, node in _nodes(schema, "(root)"):
        problems += [f"{path}: {p}" for p in _node_problems(node)]
    return problems


def _root_problems(schema: Mapping[str, Any]) -> list[str]:
    problems = [] if schema.get("type") == "object" else ["the root must be type: object"]
    metadata = schema.get("properties", {}).get("metadata")
    if metadata is not None and metadata != {"type": "object"}:
        problems.append("metadata must be just type: object (the API server owns its schema)")
    return problems


def _nodes(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every schema node that needs a type, with its path: properties, items, values."""
    yield path, node
    if not isinstance(node, Mapping):
        return
    for name, sub in (node.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if "items" in node:
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from _nodes(node["additionalProperties"], f"{path}.*")


def _node_problems(node: Any) -> list[str]:
    if not isinstance(node, Mapping):
        return ["a schema must be an object"]
    return [
        *_keyword_problems(node),
        *_type_problems(node),
        *_junctor_problems(node),
        *_bound_problems(node),
        *_default_problems(node),
        *_list_map_problems(node),
    ]


def _keyword_problems(node: Mapping[str, Any]) -> list[str]:
    allowed = (*KEPT_KEYWORDS, *JUNCTORS)
    return [
        f"{key} is not allowed"
        for key in node
        if key not in allowed and not key.startswith("x-kubernetes-")
    ]


def _type_problems(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    if kind is None:
        return [] if any(node.get(flag) for flag in _UNTYPED_OK) else ["has no type"]
    if kind not in TYPES:
        return [f"type {kind!r} is not one of {', '.join(sorted(TYPES))}"]
    problems = []
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        problems.append("an array needs one items schema")
    if "properties" in node and "additionalProperties" in node:
        problems.append("properties and additionalProperties are mutually exclusive")
    if node.get("additionalProperties") is False:
        problems.append("additionalProperties: false is not allowed")
    if "format" in node and node["format"] not in FORMATS:
        problems.append(f"format {node['format']!r} is unknown to Kubernetes")
    return problems


def _junctor_problems(node: Mapping[str, Any]) -> list[str]:
    problems = []
    for junctor in JUNCTORS:
        branches = node.get(junctor, [])
        for branch in [branches] if isinstance(branches, Mapping) else branches:
            banned = [key for key in (*_NOT_IN_JUNCTORS, "$ref") if key in branch]
            problems += [f"{junctor} must not set {key}" for key in banned]
    return problems


def _bound_problems(node: Mapping[str, Any]) -> list[str]:
    problems = []
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if exclusive not in node:
            continue
        if not isinstance(node[exclusive], bool):
            problems.append(f"{exclusive} must be a boolean (OpenAPI v3.0)")
        elif bound not in node:
            problems.append(f"{exclusive} needs {bound}")
    return problems


def _default_problems(node: Mapping[str, Any]) -> list[str]:
    if "default" not in node:
        return []
    default = node["default"]
    if default is None:
        return [] if node.get("nullable") else ["default: null needs nullable: true"]
    if "enum" in node and default not in node["enum"]:
        return [f"default {default!r} is not in enum"]
    if isinstance(default, Mapping):
        return _object_default_problems(node, default)
    return _number_default_problems(node, default)


def _object_default_problems(node: Mapping[str, Any], default: Mapping[str, Any]) -> list[str]:
    properties = node.get("properties", {})
    missing = [key for key in node.get("required", []) if key not in default]
    unknown = [key for key in default if properties and key not in properties]
    return [f"default lacks required {key}" for key in missing] + [
        f"default has unknown field {key}" for key in unknown
    ]


_LIMITS = (
    ("minimum", "exclusiveMinimum", operator.lt),
    ("maximum", "exclusiveMaximum", operator.gt),
)


def _number_default_problems(node: Mapping[str, Any], default: Any) -> list[str]:
    if isinstance(default, bool) or not isinstance(default, int | float):
        return []
    for key, exclusive, beyond in _LIMITS:
        bound = node.get(key)
        if bound is None:
            continue
        if beyond(default, bound) or (default == bound and node.get(exclusive)):
            return [f"default {default} is out of bounds"]
    return []


def _list_map_problems(node: Mapping[str, Any]) -> list[str]:
    if node.get("x-kubernetes-list-type") != "map":
        return []
    item = node.get("items", {})
    keys = node.get("x-kubernetes-list-map-keys") or []
    if not keys:
        return ["a list-map needs x-kubernetes-list-map-keys"]
    required = set(item.get("required", []))
    properties = item.get("properties", {})
    return [
        f"list-map key {key} must be required or have a default"
        for key in keys
        if key not in required and "default" not in properties.get(key, {})
    ]
