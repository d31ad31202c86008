"""Products and Runs load with their defaults, and bad input gets one clear line per problem."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from factoryos.errors import InvalidInputError, ValidationFailedError
from factoryos.models import (
    AgentProfile,
    DesiredState,
    Product,
    Run,
    SelectionStrategy,
    Sidedness,
    VerifierKind,
    dump_resource,
    load_resources,
    parse_as,
    parse_resource,
)

NAME_RULE = (
    "must be a lowercase RFC 1123 name "
    "(a-z, 0-9, '-', start and end alphanumeric, at most 63 characters)"
)


def product_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "factoryos.dev/v1alpha1",
        "kind": "Product",
        "metadata": {"name": "web"},
        "spec": {"repo": {"url": "https://example.com/web.git"}, **spec},
    }


def run_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "factoryos.dev/v1alpha1",
        "kind": "Run",
        "metadata": {"name": "web-1"},
        "spec": {"productRef": {"name": "web"}, "goal": "add a login page", **spec},
    }


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailedError) as caught:
        parse_resource(document)
    return caught.value.problems


# --- defaults ------------------------------------------------------------------------


def test_a_minimal_product_gets_every_default() -> None:
    product = parse_resource(product_doc())
    assert isinstance(product, Product)
    spec = product.spec
    assert product.metadata.namespace == "default"
    assert (spec.branch, spec.pipeline) == ("main", "pipeline.dot")
    assert (spec.candidates, spec.concurrency) == (1, 1)
    assert (spec.acceptance.alpha, spec.acceptance.target) == (0.05, 0.98)
    assert spec.acceptance.sided is Sidedness.ONE_SIDED
    assert spec.deploy.dry_run is True
    assert spec.engine.agent_profile is AgentProfile.REAL
    assert spec.holdouts is None
    assert all(commands == [] for commands in spec.verifiers.by_kind().values())
    assert product.status.phase is None and product.status.conditions == []


def test_a_verifier_command_times_out_after_600_seconds_by_default() -> None:
    product = parse_resource(product_doc(verifiers={"unit": [{"name": "t", "command": "pytest"}]}))
    assert isinstance(product, Product)
    (command,) = product.spec.verifiers.by_kind()[VerifierKind.UNIT]
    assert command.timeout_seconds == 600


def test_a_minimal_run_gets_every_default() -> None:
    run = parse_resource(run_doc())
    assert isinstance(run, Run)
    spec = run.spec
    assert spec.product_ref.name == "web"
    assert spec.max_iterations == 3
    assert spec.desired_state is DesiredState.RUNNING
    assert spec.candidates is None, "unset K falls back to the product's"
    assert spec.selection.strategy is SelectionStrategy.SEQUENTIAL_HALVING
    assert (spec.gpu.voice, spec.gpu.eval) == (False, False)


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "web", "web-app-2", "0day", "x" * 63])
def test_rfc_1123_label_names_are_accepted(name: str) -> None:
    document = product_doc()
    document["metadata"]["name"] = name
    assert parse_resource(document).metadata.name == name


@pytest.mark.parametrize("name", ["Foo_bar", "Web", "-web", "web-", "a.b", "x" * 64, ""])
def test_names_that_are_not_rfc_1123_labels_are_rejected(name: str) -> None:
    document = product_doc()
    document["metadata"]["name"] = name
    assert problems(document) == [f'metadata.name "{name}": {NAME_RULE}']


def test_the_name_error_reads_as_documented() -> None:
    document = product_doc()
    document["metadata"]["name"] = "Foo_bar"
    assert problems(document) == [
        'metadata.name "Foo_bar": must be a lowercase RFC 1123 name '
        "(a-z, 0-9, '-', start and end alphanumeric, at most 63 characters)"
    ]


def test_a_run_must_reference_its_product_by_a_valid_name() -> None:
    assert problems(run_doc(productRef={"name": "My Product"})) == [
        f'spec.productRef.name "My Product": {NAME_RULE}'
    ]


# --- counts and bounds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (product_doc(concurrency=0), "spec.concurrency"),
        (run_doc(maxIterations=0), "spec.maxIterations"),
    ],
)
def test_counts_must_be_at_least_one(document: dict[str, Any], path: str) -> None:
    assert problems(document) == [f"{path}: must be at least 1, got 0"]


@pytest.mark.parametrize("k", [0, 101, 10**12])
@pytest.mark.parametrize("doc", [product_doc, run_doc])
def test_k_is_between_1_and_100(doc: Any, k: int) -> None:
    assert problems(doc(candidates=k)) == [f"spec.candidates: must be between 1 and 100, got {k}"]


def test_a_run_may_set_its_own_k() -> None:
    run = parse_resource(run_doc(candidates=4))
    assert isinstance(run, Run) and run.spec.candidates == 4


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1])
def test_alpha_must_lie_strictly_between_0_and_1(alpha: float) -> None:
    assert problems(product_doc(acceptance={"alpha": alpha})) == [
        f"spec.acceptance.alpha: must be between 0 and 1 (exclusive), got {alpha}"
    ]


@pytest.mark.parametrize("target", [0, -1, 1.01])
def test_target_must_be_above_0_and_at_most_1(target: float) -> None:
    assert problems(product_doc(acceptance={"target": target})) == [
        f"spec.acceptance.target: must be greater than 0 and at most 1, got {target}"
    ]


def test_the_edges_of_the_acceptance_ranges_that_are_allowed() -> None:
    product = parse_resource(product_doc(acceptance={"alpha": 0.001, "target": 1}))
    assert isinstance(product, Product)
    assert (product.spec.acceptance.alpha, product.spec.acceptance.target) == (0.001, 1)


def test_sidedness_is_one_of_two_words() -> None:
    assert problems(product_doc(acceptance={"sided": "left"})) == [
        "spec.acceptance.sided: must be 'one-sided' or 'two-sided', got \"left\""
    ]


def test_a_type_error_says_what_was_expected() -> None:
    assert problems(product_doc(candidates="many")) == [
        'spec.candidates: must be an integer, got "many"'
    ]


# --- unions: repo and holdouts -------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "got"),
    [({"url": "https://x/y.git", "path": "/src/y"}, "url and path"), ({}, "neither")],
)
def test_a_repo_is_a_url_or_a_path_not_both_nor_neither(repo: dict[str, str], got: str) -> None:
    assert problems(product_doc(repo=repo)) == [
        f"spec.repo: set exactly one of url or path, got {got}"
    ]


def test_a_local_repo_path_must_be_absolute() -> None:
    assert problems(product_doc(repo={"path": "src/web"})) == [
        'spec.repo.path: must be an absolute path, got "src/web"'
    ]


def test_a_local_repo_path_is_accepted() -> None:
    product = parse_resource(product_doc(repo={"path": "/src/web"}))
    assert isinstance(product, Product) and product.spec.repo.path == "/src/web"


@pytest.mark.parametrize(
    "source",
    [
        {"path": "/secret/holdouts"},
        {"secretRef": {"name": "web-holdouts"}},
        {"configMapRef": {"name": "web-holdouts"}},
        {"volumeClaimRef": {"name": "holdouts"}},
    ],
)
def test_holdouts_come_from_exactly_one_reference(source: dict[str, Any]) -> None:
    product = parse_resource(product_doc(holdouts=source))
    assert isinstance(product, Product) and product.spec.holdouts is not None


def test_holdouts_are_never_inline() -> None:
    scenarios = {"scenarios": [{"input": "hi", "expect": "hello"}]}
    assert problems(product_doc(holdouts=scenarios)) == ["spec.holdouts.scenarios: unknown field"]


def test_two_holdout_sources_are_rejected() -> None:
    source = {"path": "/h", "secretRef": {"name": "h"}}
    assert problems(product_doc(holdouts=source)) == [
        "spec.holdouts: set exactly one of path, secretRef, configMapRef or volumeClaimRef, "
        "got path and secretRef"
    ]


# --- other spec rules ----------------------------------------------------------------


def test_the_pipeline_is_a_path_inside_the_repo() -> None:
    assert problems(product_doc(pipeline="../other/p.dot")) == [
        "spec.pipeline: must be a relative path without '..' segments, got \"../other/p.dot\""
    ]


def test_an_agent_executable_needs_the_test_shim_profile() -> None:
    engine = {"agentExecutable": "/usr/local/bin/fake-codex"}
    assert problems(product_doc(engine=engine)) == [
        "spec.engine: agentExecutable is only allowed with agentProfile test_shim"
    ]
    product = parse_resource(product_doc(engine={**engine, "agentProfile": "test_shim"}))
    assert isinstance(product, Product)


def test_an_agent_outside_the_catalog_is_refused_with_the_allowed_values() -> None:
    (problem,) = problems(product_doc(engine={"provider": "anthropic", "model": "gpt-5.4"}))
    assert problem.startswith("spec.engine: model must be one of the pinned catalog's models")
    assert "anthropic: claude-sonnet-4.5, claude-opus-4.5" in problem
    assert problems(product_doc(engine={"models": [{"nodeClass": "r", "model": "x"}]}))
    (provider,) = problems(product_doc(engine={"provider": "mistral"}))
    assert "'openai', 'anthropic' or 'google'" in provider


def test_a_gateway_serves_models_of_its_own_naming() -> None:
    engine = {"model": "llama-3-70b", "baseUrl": "http://gw.internal:8000/v1"}
    product = parse_as(Product, product_doc(engine=engine))
    assert product.spec.engine.model == "llama-3-70b"
    (problem,) = problems(product_doc(engine={"baseUrl": "ftp://gw/v1"}))
    assert problem == 'spec.engine.baseUrl "ftp://gw/v1": must be an http:// or https:// URL'


def test_credentials_are_references_never_values() -> None:
    credential = {"env": "MY_KEY", "secretName": "llm-keys", "secretKey": "openai"}
    product = parse_as(Product, product_doc(engine={"credential": credential}))
    assert product.spec.engine.credential is not None
    assert problems(product_doc(engine={"credential": {"value": "sk-1"}}))


def test_the_test_shim_stands_in_for_codex_only() -> None:
    engine = {"agentProfile": "test_shim", "agentExecutable": "/x", "provider": "anthropic"}
    assert problems(product_doc(engine=engine)) == [
        "spec.engine: agentProfile test_shim stands in for codex: provider must be openai"
    ]


def test_a_run_overrides_the_products_agent_field_by_field() -> None:
    from factoryos.models.agents import merged

    product = parse_as(Product, product_doc(engine={
        "provider": "anthropic", "model": "claude-sonnet-4.5",
        "models": [{"nodeClass": "review", "model": "claude-opus-4.5"}],
    }))  # fmt: skip
    plan = {"nodeClass": "plan", "model": "claude-sonnet-4.5"}
    run = parse_as(Run, run_doc(engine={"model": "claude-opus-4.5", "models": [plan]}))
    choice = merged(product.spec.engine, run.spec.engine)
    assert (choice.provider, choice.model) == ("anthropic", "claude-opus-4.5")
    assert sorted(m.node_class for m in choice.models) == ["plan", "review"]
    with pytest.raises(InvalidInputError, match="pinned catalog"):  # not an anthropic model
        merged(product.spec.engine, parse_as(Run, run_doc(engine={"model": "gpt-5.4"})).spec.engine)
    assert problems(run_doc(engine={"provider": "google", "model": "gpt-5.4"}))


def test_a_stored_product_that_chose_no_agent_still_chose_none() -> None:
    from factoryos.models.agents import merged

    stored = dump_resource(parse_as(Product, product_doc()))  # defaults spelled out
    assert not merged(parse_as(Product, stored).spec.engine, None).configured
    chose = parse_as(Product, product_doc(engine={"backend": "api"}))
    assert merged(chose.spec.engine, None).configured


def test_the_engine_takes_environment_variable_names_only() -> None:
    assert problems(product_doc(engine={"passEnv": ["OPENAI_API_KEY=sk-123"]})) == [
        'spec.engine.passEnv[0] "OPENAI_API_KEY=sk-123": '
        "must be an environment variable name (letters, digits, '_')"
    ]


def test_verifier_names_are_unique_within_a_kind() -> None:
    unit = [{"name": "t", "command": "pytest"}, {"name": "t", "command": "pytest -x"}]
    assert problems(product_doc(verifiers={"unit": unit})) == [
        "spec.verifiers.unit: duplicate item name='t'"
    ]


def test_an_evaluation_cannot_pass_more_scenarios_than_it_ran() -> None:
    document = run_doc()
    document["status"] = {
        "evaluation": {
            "n": 10,
            "k": 11,
            "lowerBound": 0.5,
            "target": 0.98,
            "alpha": 0.05,
            "accepted": False,
        }
    }
    assert problems(document) == ["status.evaluation: k must not exceed n"]


def test_condition_reasons_are_camel_case_words() -> None:
    document = run_doc()
    condition = {
        "type": "Ready",
        "status": "False",
        "reason": "not ready",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    document["status"] = {"conditions": [condition]}
    assert problems(document) == [
        'status.conditions[0].reason "not ready": '
        "must be one CamelCase word such as PipelineMissing"
    ]


# --- unknown fields, kinds and versions ----------------------------------------------


def test_a_typo_in_a_field_name_is_an_error_naming_the_field() -> None:
    assert problems(product_doc(verifers={})) == ["spec.verifers: unknown field"]


def test_an_unknown_field_deep_in_a_list_is_named_by_its_path() -> None:
    unit = [{"name": "t", "cmd": "pytest"}]
    assert problems(product_doc(verifiers={"unit": unit})) == [
        "spec.verifiers.unit[0].command: required",
        "spec.verifiers.unit[0].cmd: unknown field",
    ]


def test_an_unknown_kind_is_rejected() -> None:
    document = product_doc()
    document["kind"] = "Foo"
    assert problems(document) == ['unknown kind "Foo" (expected Product or Run)']


def test_a_foreign_api_version_is_rejected() -> None:
    document = product_doc()
    document["apiVersion"] = "apps/v1"
    assert problems(document) == ['apiVersion must be factoryos.dev/v1alpha1, got "apps/v1"']


def test_a_document_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ValidationFailedError, match="must be an object, got a list"):
        parse_resource(["not", "a", "resource"])


def test_the_error_message_names_the_resource_and_its_first_problem() -> None:
    document = product_doc(candidates=0, concurrency=0)
    with pytest.raises(ValidationFailedError) as caught:
        parse_resource(document, source="web.yaml")
    error = caught.value
    assert str(error) == (
        'web.yaml: invalid Product "web": spec.candidates: must be between 1 and 100, got 0 '
        "(and 1 more)"
    )
    assert len(error.problems) == 2
    assert isinstance(error, InvalidInputError)  # bad input: `sf` exits 2 (cli/exits.py)


# --- wire format ---------------------------------------------------------------------


def test_dumps_use_camel_case_and_load_back_equal() -> None:
    original = parse_resource(
        product_doc(
            verifiers={"lint": [{"name": "ruff", "command": "ruff check ."}]},
            holdouts={"secretRef": {"name": "web-holdouts"}},
            deploy={"dryRun": False},
        )
    )
    dumped = dump_resource(original)
    assert dumped["spec"]["verifiers"]["lint"][0]["timeoutSeconds"] == 600
    assert dumped["spec"]["deploy"] == {"dryRun": False, "credentials": []}
    assert dumped["spec"]["holdouts"] == {"secretRef": {"name": "web-holdouts"}}
    assert "dry_run" not in str(dumped)
    assert parse_resource(copy.deepcopy(dumped)) == original


def test_a_run_survives_a_json_round_trip() -> None:
    run = parse_resource(run_doc(desiredState="Stopped", gpu={"eval": True}))
    assert isinstance(run, Run)
    text = run.model_dump_json()
    assert '"desiredState":"Stopped"' in text and '"productRef"' in text
    assert Run.model_validate_json(text) == run


def test_snake_case_names_are_accepted_from_python() -> None:
    run = parse_as(Run, run_doc(max_iterations=5))
    assert run.spec.max_iterations == 5


def test_a_yaml_stream_loads_every_document() -> None:
    text = yaml.safe_dump_all([product_doc(), run_doc()])
    assert [type(r) for r in load_resources(text)] == [Product, Run]


def test_a_bad_document_in_a_stream_is_named_by_its_position() -> None:
    bad = run_doc(maxIterations=0)
    text = yaml.safe_dump_all([product_doc(), bad])
    with pytest.raises(ValidationFailedError, match=r"^runs\.yaml \(document 2\): invalid Run"):
        load_resources(text, source="runs.yaml")


def test_invalid_yaml_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        load_resources("kind: [unclosed", source="x.yaml")
