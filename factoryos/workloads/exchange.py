"""What a launcher tells a workload when each workload of a run has its own volume.

On a cluster the runner Jobs of a run do not share a volume (``launch.jobs``
gives each candidate, and each iteration's evaluation, its own claim), so two
things that a shared run directory gave for free travel otherwise, and the Job
sets these variables for the worker (``factoryos.worker``):

- candidates go through git: ``EXCHANGE_URL_ENV`` is the run's repository in
  the dashboard's git service, ``EXCHANGE_TOKEN_ENV`` the run's token for it;
- each volume's event log is its own stream, named ``EVENTS_STREAM_ENV``,
  which the dashboard merges into the run's one sequence.

``volume_id`` names a workload's volume (and so its event stream): its
candidate's attempts share it, so a resume finds the checkpoint.
"""

from __future__ import annotations

from factoryos.workloads.spec import WorkloadKind, WorkloadSpec

EXCHANGE_URL_ENV = "FACTORYOS_EXCHANGE_URL"
EXCHANGE_TOKEN_ENV = "FACTORYOS_EXCHANGE_TOKEN"  # noqa: S105 - a variable name
EVENTS_STREAM_ENV = "FACTORYOS_EVENTS_STREAM"


def volume_id(spec: WorkloadSpec) -> str:
    """``c<i>`` for candidate i's builds, ``e<n>`` for iteration n's evaluation."""
    return f"{'e' if spec.kind is WorkloadKind.EVALUATE else 'c'}{spec.candidate}"
