"""``deploy_product``: a product's deploy script run in a fresh checkout of its branch.

A dry run (the default) runs ``spec.deploy.command`` as given: it builds what
a deploy would ship, validates the deploy configuration and writes
``deploy-plan.json``, with no credentials in its environment. A real deploy
appends ``--deploy`` and passes the variables named in
``spec.deploy.credentials``; it needs both the caller's explicit request and
``spec.deploy.dryRun: false``. The checkout is a clone of the product's
branch (never the product's own working tree), kept under ``workdir`` for
inspection. ``sf product deploy`` is the caller.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factoryos.errors import FactoryError, InvalidInputError
from factoryos.evals.harness import passed_env
from factoryos.git import git
from factoryos.models import Product

PLAN = "deploy-plan.json"
REAL_FLAG = "--deploy"


class DeployFailedError(FactoryError):
    """The deploy script exited non-zero (its output says why)."""


@dataclass(frozen=True)
class DeployResult:
    """What one deploy (dry run or real) did."""

    product: str
    real: bool
    checkout: Path
    commit: str
    exit_code: int
    plan: dict[str, Any] | None


def deploy_command(product: Product, *, real: bool) -> str:
    """The command line run for a dry run or a real deploy; ``InvalidInputError`` if refused."""
    deploy = product.spec.deploy
    name = product.metadata.name
    if deploy.command is None:
        raise InvalidInputError(f"product {name!r} has no spec.deploy.command")
    if real and deploy.dry_run:
        raise InvalidInputError(
            f"product {name!r} is dry-run only (spec.deploy.dryRun: true); "
            "set it to false to allow real deploys"
        )
    return f"{deploy.command} {REAL_FLAG}" if real else deploy.command


def deploy_product(
    product: Product,
    workdir: Path,
    env: Mapping[str, str],
    *,
    real: bool = False,
    on_line: Callable[[str], None] = lambda _: None,
) -> DeployResult:
    """Clone the product's branch into ``workdir`` and run its deploy script there."""
    command = deploy_command(product, real=real)
    spec = product.spec
    if real:
        missing = [k for k in spec.deploy.credentials if not env.get(k)]
        if missing:
            raise InvalidInputError(
                f"a real deploy of {product.metadata.name!r} needs {', '.join(missing)} "
                "in the environment (from your secret store)"
            )
    source = spec.repo.path or spec.repo.url
    assert source is not None  # a RepoSource has one of them
    checkout = workdir / "checkout"
    if checkout.exists():
        raise InvalidInputError(f"{checkout} already exists")
    workdir.mkdir(parents=True, exist_ok=True)
    cloned = git(workdir, "clone", "-q", "--branch", spec.branch, source, str(checkout))
    if cloned.returncode != 0:
        raise FactoryError(f"cannot clone {source} ({spec.branch}): {cloned.stderr.strip()}")
    commit = git(checkout, "rev-parse", "HEAD").stdout.strip()
    run_env = passed_env(env)
    if real:
        run_env |= {k: env[k] for k in spec.deploy.credentials}
    with subprocess.Popen(
        ["bash", "-c", command],
        cwd=checkout,
        env=run_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
    plan = _read_plan(checkout / PLAN)
    return DeployResult(product.metadata.name, real, checkout, commit, proc.returncode, plan)


def _read_plan(path: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) else None
