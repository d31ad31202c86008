"""The cluster ``Launcher``: each runner workload is a ``batch/v1`` Job.

The Job runs the runner image's ``python -m factoryos.worker --spec-env
FACTORYOS_WORKLOAD_SPEC`` with the workload spec in that variable, mounts the
run's workspace claim (``<run>-work``, created with the first Job) at
``/work`` so logs_root and checkpoints survive the pod, takes provider keys
from a Secret by reference, and, when the Run needs a GPU (``spec.gpu``), gets
the GPU node selector, tolerations and ``nvidia.com/gpu`` limit from
``KubeSettings``. A pod failure policy fails the Job at once for the runner's
non-retryable exits (pipeline failed, invalid input, stopped), so only
infrastructure errors use the Run's ``backoffLimit``.

The modules, one concept each: ``kube_settings`` (how Jobs are built, from the
operator's environment), ``manifest`` (the Job and the workspace claim, pure
builders), ``progress_reports`` (the ConfigMap a runner reports its stages
into, and reading them back), ``runner_identity`` (the runners' ServiceAccount
and Role) and ``launcher`` (``KubeJobLauncher``, the only part that talks to
the API server, and ``job_state``, its reading of a Job).
"""

from factoryos.launch.jobs.kube_settings import KubeSettings
from factoryos.launch.jobs.launcher import KubeJobLauncher, job_state
from factoryos.launch.jobs.manifest import RUN_LABEL, RUNS_DIR, claim_manifest, job_manifest
from factoryos.launch.jobs.progress_reports import progress_stages

__all__ = [
    "RUNS_DIR",
    "RUN_LABEL",
    "KubeJobLauncher",
    "KubeSettings",
    "claim_manifest",
    "job_manifest",
    "job_state",
    "progress_stages",
]
