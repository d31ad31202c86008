"""``sf selftest``: the factory checks its own invariants against a real factory.

``checks`` holds the four invariants (smoke, stop, resume, events) as
functions over a ``SelftestTarget``; ``embedded.ScratchFactory`` is a scratch
embedded factory on this machine and ``cluster.ClusterFactory`` a namespace
on a cluster running the operator (imported only for ``--context``: the
Kubernetes client is slow to import). ``cli/selftest.py`` prints the table.
"""

from factoryos.selftest.checks import (
    CHECKS,
    CheckResult,
    completed_stages,
    event_problems,
    run_checks,
)
from factoryos.selftest.embedded import ScratchFactory
from factoryos.selftest.target import CheckFailedError, SelftestTarget

__all__ = [
    "CHECKS",
    "CheckFailedError",
    "CheckResult",
    "ScratchFactory",
    "SelftestTarget",
    "completed_stages",
    "event_problems",
    "run_checks",
]
