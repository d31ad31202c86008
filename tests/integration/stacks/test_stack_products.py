"""The product stacks for real: scaffold, install from the registries, check, deploy dry run, run.

Each stack is scaffolded once per module into a temporary folder and cloned,
as the factory's evaluation does; its verifiers then run for real in that
checkout with the factory's scrubbed environment (npm ci and pip install
from the package registries; tsc, eslint, vitest; mypy, ruff, pytest and the
migrations on a scratch PostgreSQL). Broken changes (a type error, a lint
error, a bad deploy configuration) must be caught. Finally ``sf product add
--template`` registers a new product and the factory runs its pipeline with
the test_shim agent through verify, evaluate and the deploy dry run, gates it
on the stack's holdout scenarios and merges it; ``sf product deploy`` then
dry-runs the merged main and refuses a real deploy of a dry-run-only product.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from factory_support import Factory
from kilroy_support import SCRIPTED_AGENT

from factoryos.evals.harness import passed_env
from factoryos.models import RunPhase, VerifierKind
from factoryos.stacks import load_stack, read_manifest, scaffold
from factoryos.stacks.scaffold import Scaffold

#: Slow, 20 s to 3.5 min a test (npm and pip installs and builds): not in `make test-fast`.
pytestmark = pytest.mark.slow

STACKS = ["stack-ts", "stack-py"]
#: A type error and the file and words the typecheck verifier must name.
TYPE_ERRORS = {
    "stack-ts": ("lib/tasks.ts", 'export const broken: number = "not a number";\n', "TS2322"),
    "stack-py": (
        "app/tasks.py",
        '\n\ndef broken() -> int:\n    return "not a number"\n',
        "Incompatible return value type",
    ),
}
LINT_ERRORS = {
    "stack-ts": (
        "lib/tasks.ts",
        "export function unused(x: any) { return x; }\n",
        "no-explicit-any",
    ),
    "stack-py": ("app/tasks.py", "import json\n", "F401"),
}


@dataclass
class Checkout:
    stack: str
    made: Scaffold
    path: Path

    def run(
        self, command: str, *, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = passed_env(os.environ) | (extra or {})
        return subprocess.run(
            ["bash", "-c", command], cwd=self.path, env=env, capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip

    @contextmanager
    def broken(self, rel: str, addition: str) -> Iterator[None]:
        target = self.path / rel
        before = target.read_text()
        target.write_text(before + addition)
        try:
            yield
        finally:
            target.write_text(before)


@pytest.fixture(scope="module", params=STACKS)
def checkout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    """The stack scaffolded, cloned like a candidate's checkout, its dependencies installed."""
    stack = str(request.param)
    root = tmp_path_factory.mktemp(stack)
    made = scaffold(load_stack(stack), "acme-tasks", root / "acme-tasks", root / "holdouts")
    path = root / "checkout"
    subprocess.run(["git", "clone", "-q", str(made.repo), str(path)], check=True)
    co = Checkout(stack, made, path)
    setup = co.run("scripts/check setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return co


def _verifiers(co: Checkout) -> list[tuple[str, str]]:
    verifiers = read_manifest(load_stack(co.stack), "acme-tasks").product["verifiers"]
    return [
        (kind.value, v["command"]) for kind in VerifierKind for v in verifiers.get(kind.value, [])
    ]


def test_every_verifier_of_the_stack_passes_for_real(checkout: Checkout) -> None:
    expected = {
        "stack-ts": ["tsc (app)", "tsc (convex)", "eslint", "vitest", "5 passed"],
        "stack-py": ["mypy --strict", "Success: no issues", "ruff check", "eslint (web)",
                     "9 passed", "migrations applied: 1", "2 passed"],
    }[checkout.stack]  # fmt: skip
    kinds = {kind for kind, _ in _verifiers(checkout)}
    assert {"typecheck", "lint", "unit"} <= kinds
    seen = ""
    for kind, command in _verifiers(checkout):
        done = checkout.run(command)
        seen += done.stdout + done.stderr
        assert done.returncode == 0, f"{kind}: {command}\n{done.stdout}{done.stderr}"
    for text in expected:
        assert text in seen, text


def test_a_type_error_is_caught_by_the_typecheck_verifier(checkout: Checkout) -> None:
    rel, addition, words = TYPE_ERRORS[checkout.stack]
    with checkout.broken(rel, addition):
        done = checkout.run("scripts/check typecheck")
        assert done.returncode != 0
        assert rel in done.stdout + done.stderr and words in done.stdout + done.stderr
    assert checkout.run("scripts/check typecheck").returncode == 0


def test_a_lint_error_is_caught_by_the_lint_verifier(checkout: Checkout) -> None:
    rel, addition, words = LINT_ERRORS[checkout.stack]
    with checkout.broken(rel, addition):
        done = checkout.run("scripts/check lint")
        assert done.returncode != 0 and words in done.stdout + done.stderr


def test_the_deploy_dry_run_builds_and_writes_the_plan(checkout: Checkout) -> None:
    command = {
        "stack-ts": "node scripts/deploy.mjs",
        "stack-py": ".venv/bin/python scripts/deploy.py",
    }
    stage_dir = checkout.path.parent / "stage-logs"
    stage_dir.mkdir(exist_ok=True)
    done = checkout.run(command[checkout.stack], extra={"KILROY_STAGE_LOGS_DIR": str(stage_dir)})
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads((checkout.path / "deploy-plan.json").read_text())
    assert (
        plan["app"] == "acme-tasks" and plan["dryRun"] is True and plan["stack"] == checkout.stack
    )
    assert json.loads((stage_dir / "deploy-plan.json").read_text()) == plan, (
        "published for the dashboard"
    )
    if checkout.stack == "stack-ts":
        web, backend = plan["targets"]["web"], plan["targets"]["backend"]
        assert "/api/health" in web["routes"] and web["artifact"]["files"] > 100
        assert (checkout.path / ".next" / "standalone" / "server.js").is_file()
        assert backend["tables"] == ["tasks"]
        assert {f["name"] for f in backend["functions"]} == {"list", "add", "toggle"}
    else:
        assert [s["name"] for s in plan["image"]["stages"]] == ["web", "app"]
        assert plan["image"]["user"] == "nobody" and plan["fly"]["internal_port"] == 8080
        assert [m["name"] for m in plan["migrations"]] == ["0001_create_tasks.sql"]
        assert "/api/tasks" in plan["api"]["routes"] and "index.html" in plan["web"]["pages"]
    assert plan["deploy"]["requires"], "a real deploy names its credentials"


BROKEN_DEPLOY = {
    "stack-ts": ("vercel.json", '{"framework": "gatsby", "buildCommand": "npm run build"}\n',
                 'framework must be "nextjs"'),
    "stack-py": ("fly.toml", None, "EXPOSE [8080], but fly.toml has 9090"),
}  # fmt: skip


def test_a_broken_deploy_configuration_is_refused_without_a_plan(checkout: Checkout) -> None:
    rel, content, words = BROKEN_DEPLOY[checkout.stack]
    target = checkout.path / rel
    before = target.read_text()
    target.write_text(content if content is not None else before.replace("8080", "9090"))
    plan = checkout.path / "deploy-plan.json"
    plan.unlink(missing_ok=True)
    try:
        command = (
            "node scripts/deploy.mjs"
            if checkout.stack == "stack-ts"
            else ".venv/bin/python scripts/deploy.py"
        )
        done = checkout.run(command)
    finally:
        target.write_text(before)
    assert done.returncode == 1 and words in done.stderr
    assert not plan.exists()


def test_a_real_deploy_needs_credentials(checkout: Checkout) -> None:
    command = {
        "stack-ts": "node scripts/deploy.mjs --deploy",
        "stack-py": ".venv/bin/python scripts/deploy.py --deploy",
    }
    done = checkout.run(command[checkout.stack])
    assert done.returncode == 2
    assert ("CONVEX_DEPLOY_KEY" if checkout.stack == "stack-ts" else "FLY_API_TOKEN") in done.stderr


@pytest.mark.timeout(900)  # the run's own limit: its candidate and its evaluation each install
@pytest.mark.parametrize("stack", STACKS)  # the stack from the registries, in their sandboxes
def test_the_factory_scaffolds_runs_gates_and_merges_a_stack_product(
    factory: Factory, stack: str
) -> None:
    repo = factory.root / "products" / "acme"
    added = factory.sf(
        "product", "add", "acme", "--template", stack, "--path", str(repo),
        "--agent-profile", "test_shim", "--agent-executable", str(SCRIPTED_AGENT),
    )  # fmt: skip
    assert f"scaffolded {stack} into {repo}" in added.stdout
    holdouts = factory.home / "holdouts" / "default" / "acme"
    assert list(holdouts.rglob("*.yaml")) and not list(repo.rglob("*.yaml"))
    again = factory.sf("product", "add", "acme", "--template", stack, check=False)
    assert again.returncode == 4 and "already exists" in again.stderr

    factory.up()
    factory.sf(
        "run", "start", "acme", "--name", "acme-1", "--goal", "Keep it green", "--wait", timeout=900
    )

    run = factory.run("acme-1")
    assert run.status.phase is RunPhase.SUCCEEDED, run.status.message
    stages = {s.name: s for s in run.status.stages if s.candidate == 0}
    for node in ("implement", "verify", "evaluate", "deploy_dryrun"):
        assert stages[node].status.value == "Succeeded", node
    logs = factory.run_dir("acme-1").logs_root(0)
    plan = json.loads((logs / "deploy_dryrun" / "deploy-plan.json").read_text())
    assert plan["dryRun"] is True and plan["app"] == "acme"
    assert json.loads((logs / "evaluate" / "public-checks.json").read_text())["failed"] == 0
    assert run.status.evaluation is not None and run.status.evaluation.accepted
    assert run.status.evaluation.n >= 59  # min_trials(0.95, 0.05): the stack's gate
    subject = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert subject.startswith("Merge factory/acme-1/c0")

    dry = factory.sf("product", "deploy", "acme", "-o", "json", timeout=900)
    result = json.loads(dry.stdout)
    assert result["exitCode"] == 0 and result["real"] is False
    assert result["plan"]["app"] == "acme" and result["plan"]["dryRun"] is True
    assert (
        result["commit"]
        == subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    ), "the dry run deploys main as merged"
    real = factory.sf("product", "deploy", "acme", "--deploy", check=False)
    assert real.returncode == 2 and "dry-run only" in real.stderr
