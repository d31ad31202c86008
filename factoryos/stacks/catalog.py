"""The stacks under ``factoryos/stacks/templates/``: what each is and where its trees are.

A stack is a folder ``templates/<name>/`` with ``stack.yaml.j2`` (its
description, the Product spec fields it registers with, and the next steps
printed after scaffolding), ``repo/`` (the product repository) and
``holdouts/`` (the example holdout scenarios, rendered outside the
repository). The folder is package data of ``factoryos.stacks``, so the
package finds it installed or from a checkout. Read by ``factoryos.stacks.scaffold``
and ``sf product add --template``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from factoryos.errors import InvalidInputError, NotFoundError

#: Where the stacks live (package data beside this module).
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MANIFEST = "stack.yaml.j2"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Stack:
    """One stack template."""

    name: str
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def repo_tree(self) -> Path:
        return self.root / "repo"

    @property
    def holdouts_tree(self) -> Path:
        return self.root / "holdouts"

    @property
    def description(self) -> str:
        """The first line of the manifest's leading comment."""
        for line in self.manifest.read_text().splitlines():
            if line.startswith("#"):
                return line.lstrip("# ").strip()
        return self.name


def list_stacks(templates: Path = TEMPLATES_DIR) -> list[Stack]:
    """Every stack, by name."""
    if not templates.is_dir():
        return []
    return [
        Stack(p.name, p)
        for p in sorted(templates.iterdir())
        if _NAME.match(p.name) and (p / MANIFEST).is_file()
    ]


def load_stack(name: str, templates: Path = TEMPLATES_DIR) -> Stack:
    """The stack called ``name``; ``NotFoundError`` naming the ones there are."""
    for stack in list_stacks(templates):
        if stack.name == name:
            for tree in (stack.repo_tree, stack.holdouts_tree):
                if not tree.is_dir():
                    raise InvalidInputError(f"stack {name!r} is incomplete: no {tree.name}/")
            return stack
    known = ", ".join(s.name for s in list_stacks(templates)) or "none"
    raise NotFoundError(f"no stack {name!r} (known: {known})")
