"""Which coding agent runs a product's agent nodes: provider, model, backend, endpoint, key.

Part of ``Product.spec.engine`` (``AgentChoice`` fields plus ``credential``) and of
``Run.spec.engine`` (``AgentChoice``, overriding the product's field by field).
The reconcile functions merge the two (``merged``) into the runner's workload
spec; the runner turns that into Kilroy's run config, the model stylesheet on the
candidate's copy of the pipeline and the agent CLI's environment
(``factoryos.kilroy.agents``). Credentials are references only: an environment
variable name locally, a Secret name and key on a cluster; values never live here.

``KNOWN_MODELS`` is the model catalog Factory OS pins for Kilroy
(``factoryos/kilroy/data/openrouter_models.json``; a unit test keeps the two the
same). A model outside it is refused unless ``baseUrl`` names a gateway, whose
model names are its own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from factoryos.errors import InvalidInputError
from factoryos.models._base import ApiModel, CelRule, Explained, KeyedList
from factoryos.models.fields import EnvVarName, NonEmptyStr


class Provider(StrEnum):
    """An LLM provider Kilroy v0.1.0 can run agent nodes with, through its CLI or its API."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLE = "google"


class Backend(StrEnum):
    """``cli``: the provider's coding-agent CLI (codex, claude, gemini); ``api``: Kilroy's own
    agent loop calling the provider's HTTP API."""

    CLI = "cli"
    API = "api"


#: Models of the pinned catalog, by provider (Kilroy's ``llm_model`` names).
KNOWN_MODELS: dict[Provider, tuple[str, ...]] = {
    Provider.OPENAI: ("gpt-5.4", "gpt-5.2", "gpt-5.2-codex"),
    Provider.ANTHROPIC: ("claude-sonnet-4.5", "claude-opus-4.5"),
    Provider.GOOGLE: ("gemini-2.5-pro",),
}

#: The environment variable each provider's CLI and API backend read the key from.
KEY_ENV: dict[Provider, str] = {
    Provider.OPENAI: "OPENAI_API_KEY",
    Provider.ANTHROPIC: "ANTHROPIC_API_KEY",
    Provider.GOOGLE: "GEMINI_API_KEY",
}

_ALLOWED = "; ".join(f"{p.value}: {', '.join(m)}" for p, m in KNOWN_MODELS.items())
UNKNOWN_MODEL = (
    f"model must be one of the pinned catalog's models ({_ALLOWED}) for its provider, "
    "or any name when baseUrl names a gateway"
)


def _in_catalog(model: str, provider: str) -> str:
    """CEL: ``model`` is a catalog model of ``provider`` (both CEL expressions)."""
    return " || ".join(
        f"({provider} == '{p.value}' && {model} in [{', '.join(repr(m) for m in models)}])"
        for p, models in KNOWN_MODELS.items()
    )


_PROVIDER = "(has(self.provider) ? self.provider : 'openai')"
MODEL_RULE = (
    f"has(self.baseUrl) || ((!has(self.model) || {_in_catalog('self.model', _PROVIDER)}) && "
    "(!has(self.models) || self.models.all(o, "
    f"{_in_catalog('o.model', f'(has(o.provider) ? o.provider : {_PROVIDER})')})))"
)

BaseUrl = Annotated[
    str,
    Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2048),
    Explained("must be an http:// or https:// URL", value_first=True),
]


def known_model(provider: Provider, model: str) -> bool:
    return model in KNOWN_MODELS[provider]


class ModelOverride(ApiModel):
    """Agent nodes of one class (DOT ``class="review"``) use another model."""

    node_class: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
    """The node class, as the pipeline's nodes name it in ``class``."""
    provider: Provider | None = None
    """Default: the engine's provider."""
    model: NonEmptyStr


class Credential(ApiModel):
    """Where the provider's API key comes from; the value is never stored in a resource."""

    env: EnvVarName | None = None
    """Locally: the variable holding the key in the environment of ``sf`` (or the
    embedded factory). Default: the provider's own (OPENAI_API_KEY, ANTHROPIC_API_KEY,
    GEMINI_API_KEY)."""
    secret_name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")] | None = None
    """On a cluster: the Secret in the Run's namespace that holds the key."""
    secret_key: NonEmptyStr | None = None
    """The key in that Secret. Default: the variable name."""


class AgentChoice(ApiModel):
    """Provider, model, backend and endpoint; every field optional."""

    provider: Provider | None = None
    """Default openai."""
    model: NonEmptyStr | None = None
    """The default model of agent nodes that do not name one (Kilroy's model stylesheet)."""
    backend: Backend | None = None
    """Default cli."""
    base_url: BaseUrl | None = None
    """An OpenAI- or Anthropic-compatible gateway (vLLM, LiteLLM, a company proxy)."""
    models: Annotated[list[ModelOverride], KeyedList("node_class")] = Field(default_factory=list)

    @property
    def configured(self) -> bool:
        """True when any field has a value: the product chose a real agent (preflight
        applies). Values, not "fields set": a stored resource spells out its defaults."""
        chosen = (self.provider, self.model, self.backend, self.base_url)
        return any(value is not None for value in chosen) or bool(self.models)

    def unknown_models(self) -> bool:
        """True when a model is outside the catalog for its provider (and no gateway)."""
        if self.base_url is not None:
            return False
        provider = self.provider or Provider.OPENAI
        chosen = [(provider, self.model)] if self.model is not None else []
        chosen += [(o.provider or provider, o.model) for o in self.models]
        return any(not known_model(p, m) for p, m in chosen)


class RunAgent(AgentChoice):
    """A Run's agent, field by field over its product's ``spec.engine``. Its models are
    checked here when it names the provider, else when merged with the product's."""

    model_config = ConfigDict(
        json_schema_extra=CelRule(
            f"!has(self.provider) || {MODEL_RULE}", UNKNOWN_MODEL, tested=("provider",)
        )
    )

    @model_validator(mode="after")
    def _model_in_catalog(self) -> RunAgent:
        if self.provider is not None and self.unknown_models():
            raise PydanticCustomError("unknown_model", UNKNOWN_MODEL)
        return self


def merged(product: AgentChoice, run: AgentChoice | None) -> AgentChoice:
    """The product's choice with the run's set fields over it (``models`` by node class).
    Raises ``InvalidInputError`` when the result names a model outside the catalog."""
    fields = set(AgentChoice.model_fields)
    base = product.model_dump(by_alias=False, include=fields, exclude_unset=True)
    if run is not None:
        base |= run.model_dump(by_alias=False, exclude_unset=True, exclude={"models"})
        classes = {m["node_class"]: m for m in base.get("models", [])}
        classes |= {m.node_class: m.model_dump(by_alias=False) for m in run.models}
        base["models"] = list(classes.values())
    choice = AgentChoice.model_validate(base)
    if choice.unknown_models():
        raise InvalidInputError(f"spec.engine: {UNKNOWN_MODEL}")
    return choice
