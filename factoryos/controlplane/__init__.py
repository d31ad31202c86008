"""Driving the reconcile core: one pass per object, and the embedded loop (``sf up``).

``Reconciler`` is one reconcile pass for one object, shared with the kopf
operator; ``LocalControlPlane`` watches the ``LocalStore``, the run event logs
and the runner processes, and runs a pass whenever something changed;
``ControlPlaneLock`` makes sure one runs per ``$FACTORYOS_HOME`` and tells
``sf`` commands whether it is up; ``HelperRecord`` lets the next ``sf up`` end
the helper processes a killed one left running.

The lock is imported with the package; the loop, the reconciler and the helper
record (and the whole core below them) only when one of their names is first used,
so ``sf run list`` can ask whether the control plane is up without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.controlplane.lock import ControlPlaneLock, control_plane_pid
from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.controlplane.leftovers import Helper, HelperRecord
    from factoryos.controlplane.loop import LocalControlPlane
    from factoryos.controlplane.reconciler import Notice, PassResult, Reconciler, retry_delay

__all__ = [
    "ControlPlaneLock",
    "Helper",
    "HelperRecord",
    "LocalControlPlane",
    "Notice",
    "PassResult",
    "Reconciler",
    "control_plane_pid",
    "retry_delay",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "Helper": "factoryos.controlplane.leftovers",
        "HelperRecord": "factoryos.controlplane.leftovers",
        "LocalControlPlane": "factoryos.controlplane.loop",
        "Notice": "factoryos.controlplane.reconciler",
        "PassResult": "factoryos.controlplane.reconciler",
        "Reconciler": "factoryos.controlplane.reconciler",
        "retry_delay": "factoryos.controlplane.reconciler",
    },
)
