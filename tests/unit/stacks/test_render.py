"""``render_tree``: Jinja2 for ``.j2`` files, bytes for the rest, dotfile names restored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError
from factoryos.stacks import render_tree
from factoryos.stacks.render import target_name


def test_j2_files_are_rendered_and_others_copied_verbatim(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "README.md.j2").write_text("# {{ title }}\n{% if name %}name: {{ name }}{% endif %}\n")
    (src / "pkg" / "raw.txt").write_text("{{ left alone }}\n")
    (src / "dot-gitignore").write_text("node_modules/\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    (src / "node_modules").mkdir()
    (src / "node_modules" / "junk.js").write_text("x")

    written = render_tree(src, tmp_path / "out", {"name": "shop", "title": "Shop"})

    out = tmp_path / "out"
    assert sorted(written) == [".gitignore", "README.md", "pkg/raw.txt", "run.sh"]
    assert (out / "README.md").read_text() == "# Shop\nname: shop\n"
    assert (out / "pkg" / "raw.txt").read_text() == "{{ left alone }}\n"
    assert (out / ".gitignore").read_text() == "node_modules/\n"
    assert os.access(out / "run.sh", os.X_OK)
    assert not (out / "node_modules").exists()


def test_an_unknown_variable_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt.j2").write_text("{{ missing }}")
    with pytest.raises(InvalidInputError, match=r"a\.txt\.j2.*missing"):
        render_tree(tmp_path / "src", tmp_path / "out", {})


@pytest.mark.parametrize(
    ("name", "expected"),
    [("package.json.j2", "package.json"), ("dot-env.j2", ".env"), ("plain.ts", "plain.ts")],
)
def test_target_names(name: str, expected: str) -> None:
    assert target_name(name) == expected
