"""Adding a product: from a repository, or scaffolded from a stack, checked before it is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import ConflictError, InvalidInputError, NotFoundError
from factoryos.models import Product
from factoryos.products import (
    AdmitProduct,
    ProductChoices,
    add_from_template,
    add_product,
    plan_from_template,
    product_from_repo,
)
from factoryos.store import LocalStore

DEFAULTS = ProductChoices()


def refuse(product: Product) -> None:
    raise InvalidInputError(f"product {product.metadata.name!r}: refused")


# -- from a repository ----------------------------------------------------------


def test_a_local_repository_is_stored_by_its_absolute_path(
    store: LocalStore, admit_here: AdmitProduct, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.parent)
    product = product_from_repo("app", repo.name, DEFAULTS)

    created = add_product(store, product, admit_here)

    assert created.spec.repo.path == str(repo.resolve()) and created.spec.repo.url is None
    assert created.spec.pipeline == "pipeline.dot" and created.spec.branch == "main"
    assert store.get(Product, "app").metadata.uid == created.metadata.uid


def test_a_git_url_is_kept_as_a_url() -> None:
    for url in ("https://git.example.invalid/app.git", "git@example.invalid:app.git"):
        product = product_from_repo("app", url, DEFAULTS)
        assert product.spec.repo.url == url and product.spec.repo.path is None


def test_on_a_cluster_a_path_is_taken_as_the_runner_pods_see_it() -> None:
    product = product_from_repo("app", "/srv/repos/../app", DEFAULTS, on_cluster=True)
    assert product.spec.repo.path == "/srv/repos/../app"  # not resolved on this machine


def test_the_choices_become_the_spec(tmp_path: Path) -> None:
    choices = ProductChoices(
        branch="trunk",
        pipeline="flows/build.dot",
        candidates=3,
        concurrency=2,
        agent_profile="test_shim",
        agent_executable=Path("agent"),
    )
    product = product_from_repo("app", str(tmp_path), choices, namespace="team-a")

    spec = product.spec
    assert (spec.branch, spec.pipeline, spec.candidates, spec.concurrency) == (
        "trunk",
        "flows/build.dot",
        3,
        2,
    )
    assert product.metadata.namespace == "team-a"
    assert product.spec.engine.agent_profile.value == "test_shim"
    assert product.spec.engine.agent_executable == str(Path("agent").resolve())


def test_a_bad_name_is_refused_naming_the_field_and_the_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"sf product add.*RFC 1123"):
        product_from_repo("Bad_Name", str(tmp_path), DEFAULTS, source="sf product add")


def test_a_refused_product_is_not_stored(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="refused"):
        add_product(store, product_from_repo("app", str(tmp_path), DEFAULTS), refuse)
    assert store.list(Product) == []


def test_a_missing_repository_is_refused_by_admission(
    store: LocalStore, admit_here: AdmitProduct, tmp_path: Path
) -> None:
    product = product_from_repo("app", str(tmp_path / "nowhere"), DEFAULTS)
    with pytest.raises(InvalidInputError, match="does not exist"):
        add_product(store, product, admit_here)
    assert store.list(Product) == []


def test_a_taken_name_is_a_conflict(
    store: LocalStore, admit_here: AdmitProduct, repo: Path
) -> None:
    add_product(store, product_from_repo("app", str(repo), DEFAULTS), admit_here)
    with pytest.raises(ConflictError):
        add_product(store, product_from_repo("app", str(repo), DEFAULTS), admit_here)


# -- from a stack template ------------------------------------------------------


def test_a_plan_writes_nothing_and_takes_the_stacks_spec(tmp_path: Path) -> None:
    plan = plan_from_template(
        "acme", "stack-py", DEFAULTS, home=tmp_path / "home", path=tmp_path / "acme"
    )

    assert not (tmp_path / "acme").exists() and not (tmp_path / "home").exists()
    assert plan.repo == (tmp_path / "acme").resolve()
    assert plan.holdouts == (tmp_path / "home" / "holdouts" / "default" / "acme").resolve()
    spec = plan.product.spec
    assert spec.repo.path == str(plan.repo) and spec.holdouts is not None
    assert spec.holdouts.path == str(plan.holdouts)
    assert spec.service is not None and spec.deploy.command == "scripts/deploy"


def test_the_repository_goes_to_the_working_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_from_template("acme", "stack-py", DEFAULTS, home=tmp_path, namespace="team-a")
    assert plan.repo == (tmp_path / "acme").resolve()
    assert plan.holdouts == (tmp_path / "holdouts" / "team-a" / "acme").resolve()


def test_a_pipeline_choice_overrides_the_stacks(tmp_path: Path) -> None:
    choices = ProductChoices(pipeline="other.dot")
    plan = plan_from_template("acme", "stack-py", choices, home=tmp_path, path=tmp_path / "a")
    assert plan.product.spec.pipeline == "other.dot"


def test_templates_are_refused_on_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--repo URL"):
        plan_from_template("acme", "stack-py", DEFAULTS, home=tmp_path, on_cluster=True)


def test_an_unknown_stack_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="stack-py"):
        plan_from_template("acme", "stack-go", DEFAULTS, home=tmp_path)


def test_a_template_product_is_scaffolded_then_stored_with_its_next_steps(
    store: LocalStore, admit_here: AdmitProduct, tmp_path: Path
) -> None:
    plan = plan_from_template(
        "acme", "stack-py", DEFAULTS, home=tmp_path / "home", path=tmp_path / "acme"
    )

    added = add_from_template(store, plan, admit_here)

    assert added.scaffold.repo == plan.repo and (plan.repo / "pipeline.dot").is_file()
    assert list(plan.holdouts.rglob("*.yaml")), "the example holdout scenarios"
    assert store.get(Product, "acme").metadata.uid == added.product.metadata.uid
    assert added.next_steps and str(plan.repo) in added.next_steps[0]
    assert all("{" not in step for step in added.next_steps)


def test_a_product_that_exists_is_refused_before_anything_is_scaffolded(
    store: LocalStore, admit_here: AdmitProduct, tmp_path: Path
) -> None:
    first = plan_from_template("acme", "stack-py", DEFAULTS, home=tmp_path, path=tmp_path / "a")
    add_from_template(store, first, admit_here)
    again = plan_from_template("acme", "stack-py", DEFAULTS, home=tmp_path, path=tmp_path / "b")

    with pytest.raises(ConflictError, match="'acme' already exists in namespace 'default'"):
        add_from_template(store, again, admit_here)
    assert not (tmp_path / "b").exists()


def test_a_refused_template_product_leaves_nothing_behind(
    store: LocalStore, tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()  # the user's folder, empty: emptied again, not removed
    plan = plan_from_template("acme", "stack-py", DEFAULTS, home=tmp_path, path=tmp_path / "mine")

    with pytest.raises(InvalidInputError, match="refused"):
        add_from_template(store, plan, refuse)

    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())
    assert not plan.holdouts.exists()
    assert store.list(Product) == []
