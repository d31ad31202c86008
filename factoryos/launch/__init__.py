"""Starting, watching and stopping runner workloads: the ``Launcher`` port and its local one.

The reconcile loop asks a ``Launcher`` for the workloads of a run and tells it
to start or stop one; ``LocalProcessLauncher`` runs each as a local process
(the embedded mode), the operator's ``KubeJobLauncher`` as a Job.
"""

from factoryos.launch.port import Launcher, WorkloadState
from factoryos.launch.processes import LocalProcessLauncher

__all__ = ["Launcher", "LocalProcessLauncher", "WorkloadState"]
