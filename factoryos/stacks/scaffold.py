"""``scaffold``: a stack rendered into a new product repository, committed.

The repository gets the stack's ``repo/`` tree and one commit on ``main``;
the holdout folder, which must lie outside the repository, gets the stack's
``holdouts/`` tree. ``read_manifest`` renders the stack's manifest with the
same variables: which Product spec fields (pipeline, verifiers, service,
acceptance, deploy) the product is registered with, and the next steps to
print. Nothing existing is overwritten: a destination that already holds
files is refused, and a failed scaffold removes what it made. Called by
``sf product add --template``.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from factoryos.errors import FactoryError, InvalidInputError, WorkspaceError
from factoryos.git import fallback_identity, git
from factoryos.stacks.catalog import Stack
from factoryos.stacks.render import render_text, render_tree

BRANCH = "main"


@dataclass(frozen=True)
class Scaffold:
    """What ``scaffold`` made."""

    stack: str
    repo: Path
    holdouts: Path
    commit: str
    files: list[str]
    #: The folders the scaffold created (the others existed, empty, before it).
    created: tuple[Path, ...] = ()

    def discard(self) -> None:
        """Remove what the scaffold wrote; a folder that existed before is emptied, not removed."""
        for dest in (self.repo, self.holdouts):
            if dest in self.created:
                shutil.rmtree(dest, ignore_errors=True)
            elif dest.is_dir():
                for child in dest.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)


@dataclass(frozen=True)
class Manifest:
    """What a stack's ``stack.yaml.j2`` says for one product."""

    #: Product spec fields from the stack (camelCase, as in YAML).
    product: dict[str, Any] = field(default_factory=dict)
    #: Lines to print after scaffolding, with ``{repo}``, ``{holdouts}`` and ``{name}``.
    next_steps: list[str] = field(default_factory=list)


def variables(name: str) -> dict[str, str]:
    """The template variables for a product called ``name`` (an RFC 1123 label)."""
    return {"name": name, "title": " ".join(w.capitalize() for w in name.split("-"))}


def scaffold(stack: Stack, name: str, repo: Path, holdouts: Path) -> Scaffold:
    """Render ``stack`` for product ``name`` into ``repo`` and ``holdouts``; commit the repo."""
    repo, holdouts = repo.resolve(), holdouts.resolve()
    if holdouts.is_relative_to(repo) or repo.is_relative_to(holdouts):
        raise InvalidInputError(
            f"the holdouts folder {holdouts} and the repository {repo} must not contain each "
            "other: candidates must never see the holdout scenarios"
        )
    for dest in (repo, holdouts):
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise InvalidInputError(f"{dest} already exists and is not empty")
    context = variables(name)
    made = Scaffold(
        stack=stack.name,
        repo=repo,
        holdouts=holdouts,
        commit="",
        files=[],
        created=tuple(d for d in (repo, holdouts) if not d.exists()),
    )
    try:
        files = render_tree(stack.repo_tree, repo, context)
        render_tree(stack.holdouts_tree, holdouts, context)
        commit = _commit(repo, f"{name}: scaffolded from the {stack.name} stack")
    except (FactoryError, OSError):
        made.discard()
        raise
    return dataclasses.replace(made, commit=commit, files=files)


def read_manifest(stack: Stack, name: str) -> Manifest:
    """The stack's manifest rendered for product ``name``."""
    text = render_text(stack.manifest.read_text(), variables(name), str(stack.manifest))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{stack.manifest}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"{stack.manifest}: expected a mapping")
    return Manifest(
        product=dict(data.get("product") or {}),
        next_steps=[str(step) for step in data.get("nextSteps") or []],
    )


def _commit(repo: Path, message: str) -> str:
    def run(*args: str) -> str:
        done = git(repo, *args)
        if done.returncode != 0:
            raise WorkspaceError(f"git {' '.join(args)} in {repo}: {done.stderr.strip()}")
        return done.stdout.strip()

    run("init", "-q", "-b", BRANCH)
    run("add", "-A")
    run(*fallback_identity(repo), "commit", "-q", "--no-verify", "-m", message)
    return run("rev-parse", "HEAD")
