"""``render_tree``: a template folder into a destination folder, with Jinja2.

A file whose name ends in ``.j2`` is rendered (strict: an unknown variable is
an error, never an empty string) and written without the suffix; every other
file is copied byte for byte, its mode kept (scripts stay executable). A name
that starts with ``dot-`` is written with a leading ``.`` instead
(``dot-gitignore`` -> ``.gitignore``), because packaging and npm drop
dotfiles from templates. Called by ``factoryos.stacks.scaffold``.

Jinja2 is imported by the functions that render, not with the module: the
commands that only list products must not pay for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from factoryos.errors import InvalidInputError

if TYPE_CHECKING:
    import jinja2

SUFFIX = ".j2"
DOT_PREFIX = "dot-"
#: Never rendered nor copied: build leftovers in a source checkout of the templates.
SKIPPED = frozenset({"__pycache__", "node_modules", ".next", ".venv", ".pytest_cache"})


def target_name(name: str) -> str:
    """The file name a template file is written as."""
    if name.endswith(SUFFIX):
        name = name[: -len(SUFFIX)]
    if name.startswith(DOT_PREFIX):
        name = "." + name[len(DOT_PREFIX) :]
    return name


def _environment(source: Path | None = None) -> jinja2.Environment:
    import jinja2

    # Source files, never HTML for a browser: nothing to escape.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(source)) if source is not None else None,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )


def render_text(text: str, context: Mapping[str, Any], name: str) -> str:
    """One template string rendered (``name`` says which, in errors)."""
    import jinja2

    try:
        return _environment().from_string(text).render(**context)
    except jinja2.TemplateError as exc:
        raise InvalidInputError(f"template {name}: {exc}") from exc


def render_tree(source: Path, dest: Path, context: Mapping[str, Any]) -> list[str]:
    """Render ``source`` into ``dest`` (created; must not hold files yet); the paths written."""
    import jinja2

    env = _environment(source)
    written: list[str] = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in SKIPPED for part in rel.parts) or path.is_dir():
            continue
        out_rel = PurePosixPath(*(target_name(p) for p in rel.parts))
        out = dest / out_rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(SUFFIX):
            try:
                text = env.get_template(rel.as_posix()).render(**context)
            except jinja2.TemplateError as exc:
                raise InvalidInputError(f"template {rel}: {exc}") from exc
            out.write_text(text)
            shutil.copymode(path, out)
        else:
            shutil.copy2(path, out)
        written.append(out_rel.as_posix())
    return written
