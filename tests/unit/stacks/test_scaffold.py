"""``scaffold``: each stack becomes one committed repository plus holdouts outside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError, NotFoundError
from factoryos.evals.gate import gate_design
from factoryos.evals.scenarios import expand, load_scenarios
from factoryos.models import Product, parse_as
from factoryos.stacks import list_stacks, load_stack, read_manifest, scaffold

STACKS = ["stack-py", "stack-ts"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_two_stacks_are_listed_with_a_description() -> None:
    stacks = {s.name: s.description for s in list_stacks()}
    assert set(STACKS) <= set(stacks)
    assert "Convex" in stacks["stack-ts"] and "FastAPI" in stacks["stack-py"]


def test_an_unknown_stack_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="stack-py, stack-ts"):
        load_stack("stack-go")


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_scaffolds_one_clean_commit_on_main(stack: str, tmp_path: Path) -> None:
    made = scaffold(load_stack(stack), "acme-shop", tmp_path / "acme", tmp_path / "held")

    repo = made.repo
    assert git(repo, "rev-parse", "HEAD").strip() == made.commit
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(repo, "status", "--porcelain") == ""
    tracked = git(repo, "ls-files").split()
    assert sorted(tracked) == sorted(made.files)
    assert not [f for f in tracked if f.endswith(".j2") or "/dot-" in f or f.startswith("dot-")]
    for needed in ("README.md", "pipeline.dot", ".gitignore", "scripts/check", "scripts/serve",
                   "scripts/deploy"):  # fmt: skip
        assert needed in tracked, needed
    assert "acme_shop" in (repo / "pipeline.dot").read_text()
    assert "Acme Shop" in (repo / "README.md").read_text()
    assert (
        '"name": "acme-shop'
        in (repo / ("web/" if stack == "stack-py" else "") / "package.json").read_text()
    )
    for script in ("scripts/check", "scripts/serve", "scripts/deploy"):
        assert (repo / script).stat().st_mode & 0o111, script


@pytest.mark.parametrize("stack", STACKS)
def test_the_product_spec_and_holdouts_are_valid(stack: str, tmp_path: Path) -> None:
    made = scaffold(load_stack(stack), "acme", tmp_path / "acme", tmp_path / "held")
    manifest = read_manifest(load_stack(stack), "acme")
    spec = {
        **manifest.product,
        "repo": {"path": str(made.repo)},
        "holdouts": {"path": str(made.holdouts)},
    }
    product = parse_as(Product, {"metadata": {"name": "acme"}, "spec": spec}, source="test")
    kinds = {k.value: [v.command for v in vs] for k, vs in product.spec.verifiers.by_kind().items()}
    assert kinds["typecheck"] == ["scripts/check typecheck"]
    assert kinds["lint"] == ["scripts/check lint"] and kinds["unit"] == ["scripts/check test"]
    assert product.spec.service is not None and product.spec.service.ready_path == "/api/health"
    assert product.spec.deploy.command == "scripts/deploy" and product.spec.deploy.dry_run
    assert product.spec.deploy.credentials, "a real deploy names its credentials"
    scenarios = load_scenarios(made.holdouts)
    assert {s.pool.value for s in scenarios} == {"selection", "acceptance"}
    gate = product.spec.acceptance
    iterations = 3  # a Run's default maxIterations
    plan = gate_design(gate.method.value, gate.target, gate.alpha, gate.sided.value, gate.power,
                       gate.power_at, iterations)  # fmt: skip
    instances = expand([s for s in scenarios if s.pool.value == "acceptance"])
    assert len({i.id for i in instances}) == len(instances) >= plan.max_trials, "honest trials"
    assert len({i.model_dump_json(exclude={"id"}) for i in instances}) == len(instances)
    assert not list(made.repo.rglob("*.yaml")), "no holdout scenario inside the repository"
    assert manifest.next_steps and all("{" not in s.format(repo="r", holdouts="h", name="n")
                                       for s in manifest.next_steps)  # fmt: skip


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "mine.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="not empty"):
        scaffold(load_stack("stack-ts"), "acme", tmp_path / "acme", tmp_path / "held")
    assert (tmp_path / "acme" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "held").exists()


def test_holdouts_and_the_repository_may_not_contain_each_other(tmp_path: Path) -> None:
    for repo, held in [("acme", "acme/holdouts"), ("held/acme", "held"), ("same", "same")]:
        with pytest.raises(InvalidInputError, match="must not contain each other"):
            scaffold(load_stack("stack-ts"), "acme", tmp_path / repo, tmp_path / held)
    assert not list(tmp_path.iterdir())


def test_a_failed_scaffold_removes_what_it_made(tmp_path: Path) -> None:
    broken = tmp_path / "templates" / "stack-bad"
    (broken / "repo").mkdir(parents=True)
    (broken / "holdouts").mkdir()
    (broken / "stack.yaml.j2").write_text("# bad\nproduct: {}\n")
    (broken / "repo" / "a.txt.j2").write_text("{{ nope }}")
    with pytest.raises(InvalidInputError, match="nope"):
        scaffold(
            load_stack("stack-bad", tmp_path / "templates"), "x", tmp_path / "x", tmp_path / "h"
        )
    assert not (tmp_path / "x").exists() and not (tmp_path / "h").exists()


def test_discard_removes_what_was_made_and_keeps_a_folder_that_was_there(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()  # the user's, empty
    made = scaffold(load_stack("stack-py"), "acme", tmp_path / "acme", tmp_path / "held")
    made.discard()
    assert (tmp_path / "acme").is_dir() and not any((tmp_path / "acme").iterdir())
    assert not (tmp_path / "held").exists()
