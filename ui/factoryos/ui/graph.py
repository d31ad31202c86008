"""A pipeline drawn as SVG, server-side, from its DOT source with Graphviz ``dot``.

Each DOT source is laid out once (cached by its hash); live state is not in
the SVG but in ``data-state`` attributes the page sets on the node groups,
so a state change never moves anything. Every node group gets
``data-node="<DOT node id>"``. Links, scripts and event-handler attributes
that a pipeline could smuggle in through DOT attributes (``URL``, ``href``)
are removed, because the SVG is inlined into the page.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import lru_cache

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

#: ``dot`` gets this long for one layout.
LAYOUT_SECONDS = 10.0


class GraphUnavailableError(Exception):
    """The graph cannot be drawn; the message says why (shown instead of the graph)."""


def render_svg(dot_source: str) -> str:
    """The pipeline as an inline-safe SVG element (raises ``GraphUnavailableError``)."""
    return _render(hashlib.sha256(dot_source.encode()).hexdigest(), dot_source)


@lru_cache(maxsize=128)
def _render(_digest: str, dot_source: str) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphUnavailableError(
            "Graphviz is not installed (`dot` not found): install the graphviz package"
        )
    try:
        done = subprocess.run(
            [
                dot,
                "-Tsvg",
                "-Gfontname=sans-serif",
                "-Nfontname=sans-serif",
                "-Efontname=sans-serif",
            ],
            input=dot_source,
            capture_output=True,
            encoding="utf-8",
            errors="replace",  # dot quotes bad input byte by byte, splitting UTF-8 sequences
            timeout=LAYOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphUnavailableError(f"laying out the graph took over {LAYOUT_SECONDS:g}s") from None
    if done.returncode != 0 or "<svg" not in done.stdout:
        raise GraphUnavailableError(f"dot could not draw the pipeline: {done.stderr.strip()[:300]}")
    return _clean(done.stdout)


def _clean(svg_text: str) -> str:
    # dot wrote this SVG (labels escaped, no DTD after the cut): not untrusted XML.
    root = ET.fromstring(svg_text[svg_text.index("<svg") :])  # noqa: S314
    _strip_active_content(root)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        classes = (group.get("class") or "").split()
        title = group.find(f"{{{SVG_NS}}}title")
        if "node" in classes and title is not None and title.text:
            group.set("data-node", title.text)
            group.set("data-state", "pending")
        elif "edge" in classes and title is not None and title.text:
            source, _, target = title.text.partition("->")
            group.set("data-from", source)
            group.set("data-to", target)
    root.set("class", "pipeline-graph")
    root.set("role", "img")
    for size in ("width", "height"):  # scale with the page; the viewBox keeps the shape
        root.attrib.pop(size, None)
    return ET.tostring(root, encoding="unicode")


def _strip_active_content(element: ET.Element) -> None:
    for child in list(element):
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in {"script", "foreignObject"}:
            element.remove(child)
            continue
        if tag == "a":  # keep what the link wraps, drop the link
            index = list(element).index(child)
            element.remove(child)
            for offset, grandchild in enumerate(list(child)):
                element.insert(index + offset, grandchild)
            _strip_active_content(element)
            return
        _strip_active_content(child)
    for name in list(element.attrib):
        local = name.rsplit("}", 1)[-1].lower()
        if local.startswith("on") or local == "href":
            del element.attrib[name]
