"""Driving the reconcile core: one pass per object, and the embedded loop (``sf up``).

``Reconciler`` is one reconcile pass for one object, shared with the kopf
operator; ``LocalControlPlane`` watches the ``LocalStore``, the run event logs
and the runner processes, and runs a pass whenever something changed;
``ControlPlaneLock`` makes sure one runs per ``$FACTORYOS_HOME`` and tells
``sf`` commands whether it is up; ``HelperRecord`` lets the next ``sf up`` end
the helper processes a killed one left running.
"""

from factoryos.controlplane.leftovers import Helper, HelperRecord
from factoryos.controlplane.lock import ControlPlaneLock, control_plane_pid
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
