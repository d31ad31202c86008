"""``Sandboxing``: whether a launcher can keep candidates from what they must not see.

A launcher says it once (``Launcher.isolation``): the local launcher probes
bubblewrap when ``sf up`` starts (``factoryos.kilroy.sandbox.probe``), a
cluster launcher says nothing (each candidate is a pod with its own volume).
The reconcile turns it into each Run's ``Isolated`` condition, and a Product
with ``spec.isolation: required`` is refused where ``isolated`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The reason of a Run that cannot start because its product requires isolation.
ISOLATION_UNAVAILABLE = "IsolationUnavailable"


@dataclass(frozen=True)
class Sandboxing:
    """Whether candidates run sandboxed here, as a condition says it."""

    isolated: bool
    #: One CamelCase word: ``Sandboxed``, ``IsolationUnavailable``, ``SandboxOff``.
    reason: str
    #: A sentence for people: how, or why not and what it means.
    message: str
