"""The embedded control plane: the reconcile core driven by a local loop (``sf up``).

``LocalControlPlane`` watches the ``LocalStore``, the run event logs and the
runner processes, and calls the pure reconcile functions whenever something
changed; ``ControlPlaneLock`` makes sure one runs per ``$FACTORYOS_HOME`` and
tells ``sf`` commands whether it is up.
"""

from factoryos.controlplane.lock import ControlPlaneLock, control_plane_pid
from factoryos.controlplane.loop import LocalControlPlane

__all__ = ["ControlPlaneLock", "LocalControlPlane", "control_plane_pid"]
