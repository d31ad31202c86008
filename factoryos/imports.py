"""Package attributes imported on first use, so that importing a package stays cheap.

A package whose ``__init__`` re-exports names from heavy submodules (the
reconcile core, the control plane's loop) sets ``__getattr__ =
lazy_attributes(__name__, {...})`` and keeps the real imports under
``TYPE_CHECKING`` for the type checker and import-linter. Then ``sf run list``
can import ``factoryos.controlplane`` for its lock without loading the loop.
Called by those packages' ``__init__`` modules only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``modules[name]`` when asked."""

    def attribute(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return attribute
