"""Validation through real Kilroy: rule names for graph problems, positions for syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from kilroy_support import EXAMPLES

from factoryos.kilroy import FileValidation, Kilroy

pytestmark = pytest.mark.integration


def check(kilroy: Kilroy, tmp_path: Path, source: str) -> FileValidation:
    path = tmp_path / "p.dot"
    path.write_text(source)
    (result,) = kilroy.validate([path])
    assert result.file == path
    return result


def rules(result: FileValidation) -> set[str]:
    return {d.rule for d in result.errors}


def test_missing_start_and_exit_nodes(kilroy: Kilroy, tmp_path: Path) -> None:
    result = check(
        kilroy, tmp_path, 'digraph p {\n  a [shape=parallelogram, tool_command="true"]\n}\n'
    )
    assert {"start_node", "terminal_node"} <= rules(result)
    assert not result.ok


def test_edges_to_unknown_nodes_and_bad_conditions(kilroy: Kilroy, tmp_path: Path) -> None:
    result = check(
        kilroy,
        tmp_path,
        """digraph p {
  start [shape=Mdiamond]
  exit [shape=Msquare]
  a [shape=parallelogram, tool_command="true"]
  start -> a
  a -> exit
  a -> ghost
  a -> exit [condition="outcome>1"]
}
""",
    )
    by_rule = {d.rule: d for d in result.errors}
    assert by_rule["edge_target_exists"].edge_to == "ghost"
    assert by_rule["condition_syntax"].edge_from == "a"
    assert "outcome>1" in by_rule["condition_syntax"].message


def test_a_syntax_error_has_the_line_and_column_of_the_file(kilroy: Kilroy, tmp_path: Path) -> None:
    result = check(
        kilroy,
        tmp_path,
        """digraph p {
  /* a comment
     over two lines */
  start [shape=Mdiamond] // and another
  start -> }
""",
    )
    assert result.parse_error is not None and "edge target" in result.parse_error
    assert (result.parse_line, result.parse_column) == (5, 12)


def test_files_kilroy_cannot_read_are_findings_not_tracebacks(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    (tmp_path / "empty.dot").write_text("")
    (tmp_path / "prose.dot").write_text("just some words\n")
    (tmp_path / "undirected.dot").write_text("graph g {}\n")
    files = [
        tmp_path / name for name in ("missing.dot", "empty.dot", "prose.dot", "undirected.dot")
    ]
    results = kilroy.validate([*files, tmp_path])
    assert [r.file for r in results] == [*files, tmp_path]
    assert all(r.parse_error and not r.ok for r in results)
    assert "not found" in (results[0].parse_error or "")
    assert "empty" in (results[1].parse_error or "")
    assert (results[2].parse_line, results[2].parse_column) == (1, 1)
    assert "digraph" in (results[3].parse_error or "")


def test_the_example_pipelines_are_clean(kilroy: Kilroy) -> None:
    examples = sorted(EXAMPLES.glob("*.dot"))
    assert {p.name for p in examples} >= {"tool-only.dot", "long-node.dot", "test-shim-agent.dot"}
    for result in kilroy.validate(examples):
        assert result.ok and not result.warnings, result.to_dict()
