"""What the runner Job tests share: a Run to build Jobs for."""

from __future__ import annotations

from typing import Any

from factoryos.models import Run, parse_as


def run(**spec: Any) -> Run:
    """Run ``r`` in namespace ``ns`` of product ``p``, with ``spec`` on top, and a uid."""
    r = parse_as(
        Run,
        {"metadata": {"name": "r", "namespace": "ns"},
         "spec": {"productRef": {"name": "p"}, "goal": "g", **spec}},
    )  # fmt: skip
    r.metadata.uid = "uid-r"
    return r
