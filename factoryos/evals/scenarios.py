"""Holdout scenarios: the documented YAML format and its loader.

A holdout folder lives outside the product repository (a local path, or on a
cluster a Secret, ConfigMap or volume) and is read only by the eval harness.
One scenario per ``*.yaml`` file; the pool is the ``pool`` field or, when it
is absent, the subfolder the file is in (``selection/`` or ``acceptance/``).
The selection pool picks a winner; the acceptance pool, never seen during
selection, gates it::

    id: greets-by-name            # unique; the only thing feedback ever names
    tags: [http, smoke]
    pool: acceptance              # selection | acceptance
    timeout_seconds: 30           # per repetition (default 60)
    setup:                        # shell commands in the candidate's worktree, once
      - pip install -q -e .
    interaction:                  # exactly one of command | http | voice
      command: python -m app.cli greet Ada
      stdin: ""                   # optional
      # http: {method: GET, path: "/greet?name=Ada", body: null, headers: {}}
      # voice: {say: "What time is it?", endpoint: /voice}   (spoken to the candidate)
    expect:                       # every check given must hold
      exit_code: 0                # command
      stdout_contains: ["Hello, Ada"]
      stdout_matches: "^Hello"    # a Python regular expression, searched
      status: 200                 # http
      body_contains: ["Ada"]
      json: {greeting: "Hello, Ada"}   # top-level keys of a JSON body
      # transcript_contains: [nine], transcript: "It is nine", max_wer: 0.15   (voice)

A scenario with a ``generate`` block is a template that yields many distinct
instances (``generators``); ``expand`` turns a pool into its instances, which
is what the acceptance gate counts.

A voice exchange speaks ``say`` (text to speech), posts the audio to the
candidate's service at ``endpoint`` (``audio/wav``), and transcribes the audio
it answers with; the checks then apply to that transcript.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryos.errors import InvalidInputError
from factoryos.evals.generators import Generator, placeholders, substitute

SCENARIO_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class Pool(StrEnum):
    """Which holdout pool a scenario belongs to."""

    SELECTION = "selection"
    ACCEPTANCE = "acceptance"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpExchange(_Model):
    """One request to the candidate's running service."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/")
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


class VoiceExchange(_Model):
    """Speak to the candidate's voice endpoint and check the transcript of its answer."""

    say: str = Field(min_length=1)
    endpoint: str = Field(default="/voice", pattern=r"^/")


class Interaction(_Model):
    """Exactly one of command, http, voice."""

    command: str | None = None
    stdin: str = ""
    http: HttpExchange | None = None
    voice: VoiceExchange | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Interaction:
        given = [k for k in ("command", "http", "voice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of command, http, voice (got {given or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return "command" if self.command is not None else "http" if self.http else "voice"


class Expect(_Model):
    """The checks on the outcome; every one given must hold."""

    exit_code: int | None = None
    stdout_contains: list[str] = Field(default_factory=list)
    stdout_matches: str | None = None
    status: int | None = None
    body_contains: list[str] = Field(default_factory=list)
    json_equals: dict[str, Any] | None = Field(default=None, alias="json")
    transcript_contains: list[str] = Field(default_factory=list)
    """voice: words the spoken answer's transcript must contain (case-insensitive)."""
    transcript: str | None = None
    """voice: what the answer should say, compared by normalized word error rate."""
    max_wer: float = Field(default=0.15, ge=0)
    """voice: the highest word error rate against ``transcript`` that passes."""

    @model_validator(mode="after")
    def _valid_regex(self) -> Expect:
        if self.stdout_matches is not None:
            try:
                re.compile(self.stdout_matches)
            except re.error as exc:
                raise ValueError(f"stdout_matches is not a regular expression: {exc}") from None
        return self


class Scenario(_Model):
    """One holdout scenario (see the module docstring for the file format)."""

    id: str = Field(pattern=SCENARIO_ID)
    tags: list[str] = Field(default_factory=list)
    pool: Pool
    timeout_seconds: float = Field(default=60.0, gt=0)
    setup: list[str] = Field(default_factory=list)
    interaction: Interaction
    expect: Expect
    generate: Generator | None = None
    """A template: the instances ``expand`` draws (see ``generators``)."""
    template: str | None = None
    """An instance: the id of the template it came from (its setup is the template's)."""

    @model_validator(mode="after")
    def _declared_placeholders(self) -> Scenario:
        used = placeholders(self._body())
        declared = set(self.generate.vars) if self.generate else set()
        if used - declared:
            raise ValueError(f"{{{{...}}}} names undeclared variables: {sorted(used - declared)}")
        return self

    @property
    def needs_voice(self) -> bool:
        return self.interaction.voice is not None

    @property
    def setup_key(self) -> str:
        """Whose setup an instance shares: its template's (setup runs once per template)."""
        return self.template or self.id

    def instances(self) -> list[Scenario]:
        """This scenario's distinct instances: itself, or its generator's draws."""
        if self.generate is None:
            return [self]
        body = self._body()
        width = len(str(self.generate.count))
        out = []
        for i, values in enumerate(self.generate.values(self.id), start=1):
            filled = substitute(body, values)
            out.append(Scenario.model_validate({
                **filled, "id": f"{self.id}.{i:0{width}d}", "tags": self.tags, "pool": self.pool,
                "timeout_seconds": self.timeout_seconds, "setup": self.setup,
                "template": self.id,
            }))  # fmt: skip
        return out

    def _body(self) -> dict[str, Any]:
        return {
            "interaction": self.interaction.model_dump(by_alias=True, exclude_none=True),
            "expect": self.expect.model_dump(by_alias=True, exclude_none=True),
        }


def load_scenarios(folder: Path) -> list[Scenario]:
    """Every scenario under ``folder`` (sorted by id); one bad file fails the load, named."""
    if not folder.is_dir():
        raise InvalidInputError(f"holdout folder {folder} does not exist")
    scenarios: dict[str, Scenario] = {}
    for path in sorted(folder.rglob("*.yaml")) + sorted(folder.rglob("*.yml")):
        relative = path.relative_to(folder)
        if any(part.startswith("..") for part in relative.parts):
            continue  # a Secret's or ConfigMap's volume: ..data/ holds what the keys link to
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInputError(f"holdout {relative}: not readable YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidInputError(f"holdout {relative}: a scenario is a mapping")
        if "pool" not in doc and relative.parts[0] in {p.value for p in Pool}:
            doc["pool"] = relative.parts[0]
        try:
            scenario = Scenario.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(file)"
            raise InvalidInputError(f"holdout {relative}: {where}: {first['msg']}") from None
        if scenario.id in scenarios:
            raise InvalidInputError(f"holdout {relative}: id {scenario.id!r} is used twice")
        scenarios[scenario.id] = scenario
    if not scenarios:
        raise InvalidInputError(f"holdout folder {folder} has no *.yaml scenarios")
    return sorted(scenarios.values(), key=lambda s: s.id)


def pool(scenarios: list[Scenario], which: Pool) -> list[Scenario]:
    """The scenarios of one pool."""
    return [s for s in scenarios if s.pool is which]


def expand(scenarios: list[Scenario]) -> list[Scenario]:
    """The distinct instances of ``scenarios``, interleaved: the first instance of every
    scenario, then every second one, ... (a gate that stops early has seen them all)."""
    lists = [s.instances() for s in scenarios]
    out: list[Scenario] = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out
