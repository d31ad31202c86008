"""Graph attributes Factory OS sets on a candidate's copy of a pipeline.

Kilroy v0.1.0 fills ``$goal`` in prompts from the DOT file's own ``goal`` graph
attribute, and takes agent nodes' provider and model from the graph's
``model_stylesheet``. Neither can be given on the command line, so the runner
(``factoryos.runner.build``) writes a copy of the pipeline beside the original
(``prompt_file`` paths stay relative to the same folder) with one more
``graph [...]`` statement just before the graph's closing brace. In DOT, and in
Kilroy's parser, a later graph attribute statement wins over an earlier one
(tests/integration/kilroy/test_graph_overrides.py runs the real Kilroy on it).

``with_graph_attributes`` is pure; ``write_overridden_copy`` is the file-system part.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from factoryos.errors import InvalidInputError, WorkspaceError

__all__ = ["dot_string", "overridden_copy_path", "with_graph_attributes", "write_overridden_copy"]


def dot_string(value: str) -> str:
    """``value`` as a DOT quoted string (Kilroy unescapes ``\\\\`` and ``\\"``)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def with_graph_attributes(source: str, attributes: Mapping[str, str]) -> str:
    """``source`` with ``graph [k="v", ...]`` added as the graph's last statement."""
    if not attributes:
        return source
    end = _closing_brace(source)
    pairs = ", ".join(f"{key}={dot_string(value)}" for key, value in attributes.items())
    statement = f"\n  // set by Factory OS for this run\n  graph [{pairs}]\n"
    return source[:end] + statement + source[end:]


def overridden_copy_path(pipeline: Path) -> Path:
    """Where the copy goes: beside the pipeline, so relative ``prompt_file`` paths hold."""
    return pipeline.with_name(f".{pipeline.stem}.factoryos{pipeline.suffix}")


def write_overridden_copy(pipeline: Path, attributes: Mapping[str, str]) -> Path:
    """Write the pipeline's copy with ``attributes`` and return its path."""
    try:
        source = pipeline.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkspaceError(f"cannot read the pipeline {pipeline}: {exc.strerror}") from exc
    copy = overridden_copy_path(pipeline)
    try:
        copy.write_text(with_graph_attributes(source, attributes), encoding="utf-8")
    except OSError as exc:
        raise WorkspaceError(f"cannot write {copy}: {exc.strerror}") from exc
    return copy


def _closing_brace(source: str) -> int:
    """The offset of the brace that closes the (first) graph, skipping strings and comments."""
    depth, i, n = 0, 0, len(source)
    while i < n:
        c = source[i]
        if c == '"':
            i += 1
            while i < n and source[i] != '"':
                i += 2 if source[i] == "\\" else 1
        elif source.startswith("//", i) or (c == "#" and _line_start(source, i)):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            i = source.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise InvalidInputError("the pipeline has no closing '}' for its graph: is it a DOT file?")


def _line_start(source: str, i: int) -> bool:
    return source[:i].rstrip(" \t").endswith("\n") or not source[:i].strip(" \t")
