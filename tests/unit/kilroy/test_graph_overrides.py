"""The graph statement the runner adds to a candidate's copy of the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError
from factoryos.kilroy.graph_overrides import (
    dot_string,
    overridden_copy_path,
    with_graph_attributes,
    write_overridden_copy,
)

PIPELINE = """// a } in a comment
digraph p {
  graph [goal="Keep it shippable"]
  /* and { one } here */
  a [shape=box, prompt="$goal with a } inside"]
  # a line comment } too
  subgraph cluster_x { b }
  a -> b
}
// trailing } comment
"""


def test_the_statement_goes_before_the_brace_that_closes_the_graph() -> None:
    out = with_graph_attributes(PIPELINE, {"goal": "Add a health endpoint"})
    body, tail = out.rsplit("\n}\n", 1)
    assert body.endswith('graph [goal="Add a health endpoint"]')
    assert tail == "// trailing } comment\n"
    assert (
        out.replace(
            '\n  // set by Factory OS for this run\n  graph [goal="Add a health endpoint"]\n', ""
        )
        == PIPELINE
    )


def test_quotes_backslashes_and_newlines_survive_as_dot_escapes() -> None:
    assert dot_string('say "hi"\\n\nnext') == '"say \\"hi\\"\\\\n\nnext"'
    out = with_graph_attributes(
        "digraph g { a }", {"goal": 'a "b"', "model_stylesheet": "* { llm_model: m; }"}
    )
    assert 'graph [goal="a \\"b\\"", model_stylesheet="* { llm_model: m; }"]' in out


def test_no_attributes_leaves_the_source_alone() -> None:
    assert with_graph_attributes(PIPELINE, {}) == PIPELINE


@pytest.mark.parametrize("source", ["", "digraph g {", 'digraph g { a [label="}"]'])
def test_a_file_without_a_closing_brace_is_refused(source: str) -> None:
    with pytest.raises(InvalidInputError, match="no closing"):
        with_graph_attributes(source, {"goal": "x"})


def test_the_copy_sits_beside_the_pipeline(tmp_path: Path) -> None:
    pipeline = tmp_path / "flows" / "pipeline.dot"
    pipeline.parent.mkdir()
    pipeline.write_text(PIPELINE)
    copy = write_overridden_copy(pipeline, {"goal": "g"})
    assert copy == overridden_copy_path(pipeline) == tmp_path / "flows" / ".pipeline.factoryos.dot"
    assert pipeline.read_text() == PIPELINE
    assert 'graph [goal="g"]' in copy.read_text()
