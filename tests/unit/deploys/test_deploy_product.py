"""``deploy_product``: dry runs without credentials, real deploys only when asked and allowed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.deploys import deploy_command, deploy_product
from factoryos.errors import InvalidInputError
from factoryos.models import Product, parse_as

SCRIPT = """#!/usr/bin/env bash
# Writes what it was given as the plan, so the test can see it.
printf '{"args": "%s", "token": "%s", "home": "%s"}\\n' "$*" "${DEPLOY_TOKEN:-}" "${HOME:+set}" \\
  > deploy-plan.json
echo "deploying with: $*"
exit "${FAIL_WITH:-0}"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "deploy.sh").write_text(SCRIPT)
    (repo / "deploy.sh").chmod(0o755)
    identity = ["-c", "user.name=t", "-c", "user.email=t@x"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def product(repo: Path, **deploy: object) -> Product:
    spec = {"repo": {"path": str(repo)}, "deploy": {"command": "./deploy.sh", **deploy}}
    return parse_as(Product, {"metadata": {"name": "shop"}, "spec": spec}, source="test")


ENV = {"PATH": "/usr/bin:/bin", "HOME": "/root", "DEPLOY_TOKEN": "s3cret", "OTHER": "x"}


def test_a_dry_run_gets_no_credentials_and_reads_the_plan(repo: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    result = deploy_product(
        product(repo, credentials=["DEPLOY_TOKEN"]), tmp_path / "w", ENV, on_line=lines.append
    )
    assert result.exit_code == 0 and not result.real
    assert result.plan == {"args": "", "token": "", "home": "set"}
    assert lines == ["deploying with: "]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert result.commit == head and result.checkout == tmp_path / "w" / "checkout"
    assert not (repo / "deploy-plan.json").exists(), "the product's own tree is never touched"


def test_a_real_deploy_is_refused_while_the_product_is_dry_run_only(
    repo: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="dry-run only"):
        deploy_product(product(repo), tmp_path / "w", ENV, real=True)
    assert not (tmp_path / "w").exists(), "nothing is cloned for a refused deploy"


def test_a_real_deploy_needs_its_credentials(repo: Path, tmp_path: Path) -> None:
    allowed = product(repo, dryRun=False, credentials=["DEPLOY_TOKEN"])
    with pytest.raises(InvalidInputError, match="needs DEPLOY_TOKEN"):
        deploy_product(allowed, tmp_path / "w", {"PATH": "/usr/bin:/bin"}, real=True)
    result = deploy_product(allowed, tmp_path / "w2", ENV, real=True)
    assert result.real and result.plan == {"args": "--deploy", "token": "s3cret", "home": "set"}


def test_a_failing_script_reports_its_exit_status(repo: Path, tmp_path: Path) -> None:
    result = deploy_product(product(repo), tmp_path / "w", {**ENV, "FAIL_WITH": "3"})
    assert result.exit_code == 0, "only PATH, HOME, LANG, LC_ALL and TMPDIR pass through"
    (repo / "deploy.sh").write_text(SCRIPT.replace('"${FAIL_WITH:-0}"', "3"))
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x",
                    "commit", "-qam", "fail"], check=True)  # fmt: skip
    assert deploy_product(product(repo), tmp_path / "w2", ENV).exit_code == 3


def test_a_product_without_a_deploy_command_cannot_deploy(repo: Path) -> None:
    bare = parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": str(repo)}}},
                    source="test")  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"no spec\.deploy\.command"):
        deploy_command(bare, real=False)
    assert deploy_command(product(repo), real=False) == "./deploy.sh"
