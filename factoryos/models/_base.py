"""The building blocks every resource model shares.

``ApiModel`` fixes the wire conventions (camelCase names as Kubernetes spells
them, unknown fields rejected, field docstrings as schema descriptions). The
markers (``Explained``, ``Checked``, ``KeyedList``), ``CelRule`` and
``OneOfModel`` state a rule once and word it the same in both places a
resource is checked: in Python (the local store, ``sf``) and, where a schema
can say it, in the CRD the API server enforces (``factoryos.crd`` reads the
JSON schema they emit). Only ``factoryos.models`` uses this module.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: Error types of pydantic's own constraints (bounds, length, pattern) that
#: ``Explained`` replaces with its rule; type errors ("not a number") pass through.
CONSTRAINT_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "too_short",
        "too_long",
    }
)

#: The error type ``Explained`` raises; ``factoryos.models.problems`` renders it.
EXPLAINED_ERROR = "explained"

#: ``json_schema_extra`` of a sub-object field whose own fields all have
#: defaults: with ``default: {}`` in the CRD the API server fills those in
#: even when the user leaves the whole sub-object out.
DEFAULTED_OBJECT: dict[str, Any] = {"default": {}}


class ApiModel(BaseModel):
    """Base of every resource model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


@dataclass(frozen=True)
class Explained:
    """Annotation marker: report a field's constraint failures as one plain rule.

    ``Annotated[float, Field(gt=0, lt=1), Explained("must be between 0 and 1
    (exclusive)")]`` keeps ``exclusiveMinimum``/``exclusiveMaximum`` in the
    schema (so the API server checks them too) but says
    ``must be between 0 and 1 (exclusive), got 1.5`` instead of two pydantic
    messages. ``value_first`` renders ``<path> "<value>": <rule>``, which reads
    better when the value is a name.
    """

    rule: str
    value_first: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def _validate(self, value: Any, validate: Callable[[Any], Any]) -> Any:
        try:
            return validate(value)
        except ValidationError as error:
            if any(e["type"] not in CONSTRAINT_ERRORS for e in error.errors()):
                raise
            raise self.error(value) from None

    def error(self, value: Any) -> PydanticCustomError:
        """The error this rule reports for ``value`` (also used by plain validators)."""
        context = {"rule": self.rule, "value": value, "value_first": self.value_first}
        return PydanticCustomError(EXPLAINED_ERROR, "{rule}", context)


@dataclass(frozen=True)
class Checked:
    """Annotation marker: a Python check the schema cannot express, with its rule.

    ``predicate`` returns True for good values; a bad one is reported like an
    ``Explained`` constraint. Use it for rules such as "a relative path".
    """

    predicate: Callable[[Any], bool]
    rule: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def _validate(self, value: Any) -> Any:
        if not self.predicate(value):
            raise Explained(self.rule).error(value)
        return value


class KeyedList:
    """Annotation marker: list items are unique by ``keys`` (by value when no keys).

    In Python a duplicate is a validation error; in the CRD the list becomes a
    Kubernetes list-map keyed by the same fields (``x-kubernetes-list-type:
    map``), or a set when no keys are given, so server-side apply merges items
    by key instead of replacing the whole list. ``keys`` are Python field names.
    """

    def __init__(self, *keys: str) -> None:
        self.keys = keys
        # One C-level getter: a store read validates thousands of these lists (sf run list).
        self._getter: Callable[[Any], Hashable] | None = attrgetter(*keys) if keys else None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.keys:
            json_schema["x-kubernetes-list-type"] = "map"
            json_schema["x-kubernetes-list-map-keys"] = [to_camel(k) for k in self.keys]
        else:
            json_schema["x-kubernetes-list-type"] = "set"
        return json_schema

    def _validate(self, items: list[Any]) -> list[Any]:
        keys = items if self._getter is None else [self._getter(item) for item in items]
        if len(set(keys)) == len(keys):
            return items
        seen: set[Hashable] = set()
        for key in keys:
            if key in seen:
                raise PydanticCustomError(
                    "duplicate", "duplicate item {key}", {"key": _describe_key(self.keys, key)}
                )
            seen.add(key)
        return items


def _describe_key(names: tuple[str, ...], key: Hashable) -> str:
    if not names:
        return repr(key)
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{to_camel(n)}={v!r}" for n, v in zip(names, values, strict=True))


def one_of_rule(fields: Iterable[str]) -> str:
    """``set exactly one of url or path``, in wire names."""
    return f"set exactly one of {_camel_join(fields, 'or')}"


def _camel_join(fields: Iterable[str], word: str = "and") -> str:
    names = [to_camel(f) for f in fields]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


@dataclass(frozen=True)
class CelRule:
    """A rule the API server checks (``x-kubernetes-validations``); a ``json_schema_extra``.

    Pair it with the Python validator that says the same ``message``. The
    fields the rule tests with ``has()`` (``tested``, Python names) are made
    non-nullable in the schema: the API server then prunes an explicit
    ``null`` before validation, so ``has()`` agrees with Python, where None
    means unset.
    """

    rule: str
    message: str
    tested: tuple[str, ...] = ()

    def __call__(self, schema: dict[str, Any]) -> None:
        for field in self.tested:
            _drop_null_variant(schema["properties"][to_camel(field)])
        rule = {"rule": self.rule, "message": self.message}
        schema.setdefault("x-kubernetes-validations", []).append(rule)


def _drop_null_variant(field_schema: dict[str, Any]) -> None:
    """``{anyOf: [X, {type: null}], default: null, ...}`` -> ``{X..., ...}``."""
    (variant,) = [v for v in field_schema.pop("anyOf", []) if v != {"type": "null"}]
    if field_schema.get("default", ...) is None:
        del field_schema["default"]
    field_schema.update(variant)


def _add_one_of_rule(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """Mirror ``OneOfModel``'s check as a CEL rule."""
    fields: tuple[str, ...] = getattr(cls, "one_of", ())
    present = ", ".join(f"has(self.{to_camel(f)})" for f in fields)
    rule = f"[{present}].filter(x, x).size() == 1"
    CelRule(rule, one_of_rule(fields), tested=fields)(schema)


class OneOfModel(ApiModel):
    """A model where exactly one of the ``one_of`` fields is set (a Kubernetes union).

    The rule holds in Python (an ``after`` validator) and on the API server (a
    CEL rule in ``x-kubernetes-validations``), worded the same way.
    """

    one_of: ClassVar[tuple[str, ...]] = ()

    model_config = ConfigDict(json_schema_extra=_add_one_of_rule)

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOfModel:
        chosen = [name for name in self.one_of if getattr(self, name) is not None]
        if len(chosen) != 1:
            got = _camel_join(chosen) if chosen else "neither"
            context = {"rule": one_of_rule(self.one_of), "got": got}
            raise PydanticCustomError("one_of", "{rule}, got {got}", context)
        return self
