"""The pipeline graph: drawn once by Graphviz, marked for live state, made safe to inline."""

from __future__ import annotations

import pytest

from factoryos.ui import graph
from factoryos.ui.graph import GraphUnavailableError, render_svg


def test_nodes_and_edges_are_marked_for_the_page() -> None:
    svg = render_svg("digraph p { start -> implement -> exit }")
    assert svg.startswith("<svg") and 'class="pipeline-graph"' in svg
    for node in ("start", "implement", "exit"):
        assert f'data-node="{node}" data-state="pending"' in svg
    assert 'data-from="start" data-to="implement"' in svg
    assert "width=" not in svg.split(">", 1)[0]


def test_links_and_scripts_from_the_pipeline_are_removed() -> None:
    svg = render_svg(
        'digraph p { a [URL="javascript:alert(1)", tooltip="t"]; '
        'a -> b [href="https://evil.example"]; }'
    )
    assert "javascript" not in svg and "evil.example" not in svg
    assert "href" not in svg and "<a" not in svg
    assert 'data-node="a"' in svg, "what the link wrapped is kept"


def test_a_broken_pipeline_or_no_graphviz_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GraphUnavailableError, match="dot could not draw"):
        render_svg("digraph { a -> ")
    monkeypatch.setattr(graph.shutil, "which", lambda _: None)
    with pytest.raises(GraphUnavailableError, match="install the graphviz package"):
        render_svg("digraph { never -> drawn_before }")
