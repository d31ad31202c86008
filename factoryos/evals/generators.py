"""Scenario generators: one template, many distinct instances (inputs, data, phrasing).

A holdout scenario with a ``generate`` block is a template. Its ``vars`` say
how each variable is drawn (a ``choice`` from a list, an ``int`` in a range, a
random ``word`` of some length); ``count`` instances with pairwise distinct
values are drawn from a generator seeded by ``seed`` and the template id, so
the same folder always yields the same instances. ``{{name}}`` in any string
of ``interaction`` and ``expect`` is replaced by the instance's value::

    id: greets-anyone
    pool: acceptance
    generate:
      count: 400
      seed: 1
      vars:
        name: {word: [3, 9]}          # e.g. Qarvel
        greeting: {choice: [Hello, Hi]}
    interaction: {command: "python3 greet.py {{name}} --greeting {{greeting}}"}
    expect: {stdout_contains: ["{{greeting}}, {{name}}"]}

Distinct instances are what the acceptance gate counts as trials
(``scenarios.expand``, called by the evaluation workload and ``sf eval``).
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from factoryos.errors import InvalidInputError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Draws per instance asked for before a generator is declared too small.
_DRAWS_PER_INSTANCE = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Model):
    """How one variable is drawn: exactly one of ``choice``, ``int``, ``word``."""

    choice: list[str] | None = Field(default=None, min_length=1)
    int_range: tuple[int, int] | None = Field(default=None, alias="int")
    word: tuple[int, int] | None = None
    """A random capitalized word, its length between the two numbers (inclusive)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Variable:
        given = [k for k in ("choice", "int_range", "word") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of choice, int, word")
        for pair in (self.int_range, self.word):
            if pair is not None and pair[0] > pair[1]:
                raise ValueError(f"a range runs from low to high, got {list(pair)}")
        if self.word is not None and self.word[0] < 1:
            raise ValueError("a word has at least one letter")
        return self

    def draw(self, rng: random.Random) -> str:
        if self.choice is not None:
            return rng.choice(self.choice)
        if self.int_range is not None:
            return str(rng.randint(*self.int_range))
        assert self.word is not None
        length = rng.randint(*self.word)
        letters = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
        return letters.capitalize()


class Generator(_Model):
    """``generate``: how many distinct instances a template yields, and from what."""

    count: int = Field(ge=1, le=100_000)
    seed: int = 0
    vars: dict[str, Variable] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> Generator:
        for name in self.vars:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"variable name {name!r} is not an identifier")
        return self

    def values(self, template_id: str) -> list[dict[str, str]]:
        """``count`` pairwise distinct value sets, the same for the same template and seed."""
        rng = random.Random(f"{template_id}:{self.seed}")  # noqa: S311 - reproducible draws
        names = sorted(self.vars)
        seen: set[tuple[str, ...]] = set()
        out: list[dict[str, str]] = []
        for _ in range(self.count * _DRAWS_PER_INSTANCE):
            drawn = tuple(self.vars[n].draw(rng) for n in names)
            if drawn not in seen:
                seen.add(drawn)
                out.append(dict(zip(names, drawn, strict=True)))
                if len(out) == self.count:
                    return out
        raise InvalidInputError(
            f"scenario {template_id}: its generator yields only {len(out)} distinct instances "
            f"of the {self.count} asked for (widen its vars or lower count)"
        )


def placeholders(value: Any) -> set[str]:
    """The ``{{name}}`` variables used anywhere in a (nested) value."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def substitute(value: Any, values: dict[str, str]) -> Any:
    """``value`` with every ``{{name}}`` replaced (strings in dicts and lists too)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value
