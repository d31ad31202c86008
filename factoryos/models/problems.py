"""Turning pydantic validation errors into one plain line per problem.

Every line starts with the camelCase path of the bad field, as a user wrote
it (``spec.acceptance.alpha: must be between 0 and 1 (exclusive), got 1.5``).
``factoryos.models.loading`` uses it for whole resources; adapters that
validate a fragment (a patch body, a CLI flag) can use it directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from factoryos.models._base import EXPLAINED_ERROR

#: What a value must be, by the first word of pydantic's type-error names
#: (``int_parsing``, ``float_type``, ``model_type``, ...).
_EXPECTED_TYPE = {
    "int": "an integer",
    "float": "a number",
    "decimal": "a number",
    "string": "a string",
    "bool": "true or false",
    "model": "an object",
    "dict": "an object",
    "list": "a list",
    "datetime": "an RFC 3339 timestamp",
    "date": "a date",
}
_LONGEST_SHOWN = 100
#: Error types pydantic raises itself; any other type comes from our validators.
_PYDANTIC_ERRORS = frozenset(get_args(ErrorType))


def problems_from(error: ValidationError) -> list[str]:
    """One line per error: ``<path>: <what is wrong>``."""
    return [problem_line(details) for details in error.errors()]


def problem_line(details: ErrorDetails) -> str:
    """The line for one pydantic error."""
    path = field_path(details["loc"])
    context = details.get("ctx") or {}
    if details["type"] == EXPLAINED_ERROR:
        value = describe(context["value"])
        if context["value_first"]:
            return f"{path} {value}: {context['rule']}"
        return f"{path}: {context['rule']}, got {value}"
    return f"{path}: {_message(details, context)}"


def _message(details: ErrorDetails, context: Mapping[str, Any]) -> str:
    kind = details["type"]
    if kind not in _PYDANTIC_ERRORS:
        return details["msg"]  # raised by our own validators: already plain
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    got = f", got {describe(details['input'])}"
    if kind in {"literal_error", "enum"}:
        return f"must be {context['expected']}{got}"
    head, _, tail = kind.partition("_")
    if head in _EXPECTED_TYPE and tail.endswith(("type", "parsing", "from_float")):
        return f"must be {_EXPECTED_TYPE[head]}{got}"
    return _lower_first(details["msg"]) + got


def field_path(loc: Sequence[int | str]) -> str:
    """``("spec", "verifiers", "unit", 0, "name")`` -> ``spec.verifiers.unit[0].name``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def describe(value: Any) -> str:
    """A short rendering of a bad value for a message: JSON scalars, else its shape."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str) and len(value) > _LONGEST_SHOWN:
        value = value[: _LONGEST_SHOWN - 3] + "..."
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:]
