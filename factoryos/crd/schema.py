"""Rewriting pydantic's JSON Schema into a Kubernetes *structural* schema.

pydantic emits JSON Schema 2020-12 (``$defs``/``$ref``, ``anyOf`` with
``null`` for optionals, numeric ``exclusiveMinimum``, ``title`` everywhere);
the API server accepts only OpenAPI v3.0 structural schemas. This module does
the rewrite kube-rs's ``StructuralSchemaRewriter`` does, for
``factoryos.crd.definitions``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

Schema = dict[str, Any]

#: OpenAPI v3.0 keywords a structural schema may carry (besides x-kubernetes-*).
KEPT_KEYWORDS = (
    "type",
    "description",
    "format",
    "enum",
    "default",
    "nullable",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "additionalProperties",
    "items",
)
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def structural_schema(json_schema: Mapping[str, Any]) -> Schema:
    """``json_schema`` (pydantic's output) rewritten as a Kubernetes structural schema.

    Every ``$ref`` is inlined, ``anyOf: [X, {type: null}]`` becomes X with
    ``nullable: true``, 2020-12 numeric ``exclusiveMinimum``/``Maximum`` become
    the OpenAPI v3.0 boolean form, ``const`` becomes a one-value ``enum``,
    ``additionalProperties: false`` (Kubernetes prunes unknown fields anyway),
    ``title``, ``default: null`` and keywords Kubernetes rejects are dropped.
    Raises ``ValueError`` for a union of several types, which Kubernetes
    cannot express.
    """
    return _convert(json_schema, json_schema.get("$defs", {}), "")


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> Schema:
    node = _collapse_nullable(_inline(node, defs), defs, path)
    out: Schema = {}
    for key, value in node.items():
        out.update(_convert_keyword(key, value, defs, path))
    return _ordered(out)


def _inline(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with its ``$ref`` (or single-entry ``allOf``) replaced by the target.

    Keys next to the reference (a field's description or default) win over
    the target's (the referenced class's docstring).
    """
    while "$ref" in node or len(node.get("allOf", ())) == 1:
        rest = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        target = node["$ref"] if "$ref" in node else node["allOf"][0]
        if isinstance(target, str):
            target = defs[target.rsplit("/", 1)[-1]]
        node = {**target, **rest}
    return node


def _collapse_nullable(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: str
) -> Mapping[str, Any]:
    if "anyOf" not in node:
        return node
    variants = [v for v in node["anyOf"] if v != {"type": "null"}]
    if len(variants) != 1 or len(variants) == len(node["anyOf"]):
        raise ValueError(
            f"{path or '(root)'}: a union of several types has no structural schema; "
            "use one type (optionally with None)"
        )
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    return {**_inline(variants[0], defs), **rest, "nullable": True}


def _convert_keyword(key: str, value: Any, defs: Mapping[str, Any], path: str) -> Schema:
    if key == "properties":
        return {key: {name: _convert(sub, defs, f"{path}.{name}") for name, sub in value.items()}}
    if key == "items":
        return {key: _convert(value, defs, f"{path}[]")}
    if key == "additionalProperties":
        if value is False:
            return {}
        if value is True or value == {}:
            return {_PRESERVE: True}
        return {key: _convert(value, defs, f"{path}.*")}
    if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
        bound = "minimum" if key == "exclusiveMinimum" else "maximum"
        return {bound: value, key: True}
    if key == "const":
        return {"enum": [value]}
    if key == "default" and value is None:
        return {}
    if key in KEPT_KEYWORDS or key.startswith("x-kubernetes-"):
        return {key: copy.deepcopy(value)}  # never share pydantic's (cached) lists
    return {}  # title, examples, $defs, $schema, ...: nothing Kubernetes needs


def _ordered(node: Schema) -> Schema:
    """Keywords in a fixed, readable order (type first, x-kubernetes-* last)."""
    rank = {key: index for index, key in enumerate(KEPT_KEYWORDS)}
    return dict(sorted(node.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))
