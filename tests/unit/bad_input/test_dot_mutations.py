"""Mutated example pipelines: the pure DOT handling answers with our errors only.

Each example takes one of the repository's DOT files and breaks it (a span cut
out, DOT punctuation or random text put in, a line doubled, the file cut short,
a quoted value replaced, stray non-UTF-8 bytes decoded as a reader would). The
goal/stylesheet override the runner writes (``with_graph_attributes``) either
works or raises ``InvalidInputError``; the dashboard's drawing (``render_svg``)
either draws or raises ``GraphUnavailableError``, which the page shows in one
line. Kilroy's own validation of the same mutations: tests/integration/kilroy.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryos.errors import InvalidInputError
from factoryos.kilroy.graph_overrides import with_graph_attributes
from factoryos.ui.graph import GraphUnavailableError, render_svg

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.dot") if "node_modules" not in p.parts)
DOT_BITS = st.sampled_from(
    ["{", "}", "[", "]", "=", ";", ",", '"', "->", "--", "\\", "//", "/*", "*/", "#", "\n",
     "digraph", "subgraph", "node", "edge", "shape=box", 'label="', "\x00", "\udcff"]
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES)).read_bytes()
    how = draw(st.sampled_from(["cut", "insert", "double", "truncate", "value", "bytes"]))
    at = draw(st.integers(0, len(text)))
    if how == "cut":
        text = text[:at] + text[at + draw(st.integers(1, 200)) :]
    elif how == "insert":
        bits = draw(st.lists(st.one_of(DOT_BITS, st.text(max_size=6)), min_size=1, max_size=5))
        text = text[:at] + "".join(bits).encode("utf-8", "surrogateescape") + text[at:]
    elif how == "double":
        lines = text.splitlines(keepends=True)
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index])
        text = b"".join(lines)
    elif how == "truncate":
        text = text[:at]
    elif how == "value":
        value = draw(st.text(max_size=30)).encode("utf-8", "surrogateescape")
        text = re.sub(rb'"[^"\n]*"', lambda _: b'"' + value + b'"', text, count=1)
    else:
        text = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\x80"])) + text[at:]
    return text.decode("utf-8", "replace")  # how the runner and the dashboard read a file


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=mutated(), goal=st.text(max_size=50))
def test_the_goal_override_works_or_says_why(source: str, goal: str) -> None:
    try:
        copy = with_graph_attributes(source, {"goal": goal})
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        return
    assert copy.startswith(source[: source.find("{")]) and "set by Factory OS" in copy


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=mutated())
def test_the_dashboard_draws_or_says_why(source: str) -> None:
    try:
        svg = render_svg(source)
    except GraphUnavailableError as exc:
        assert str(exc).strip()
        return
    assert svg.lstrip().startswith("<svg")


def test_there_are_examples_to_mutate() -> None:
    assert len(EXAMPLES) >= 5, EXAMPLES
