"""What the operator does about an error of a reconcile pass, in kopf's own terms.

The core raises one tree (``factoryos.errors``); kopf knows two answers, a
``kopf.TemporaryError`` (try again after ``delay``) and a ``kopf.PermanentError``
(trying again cannot help). ``translate`` picks one by what the error means,
and nothing else in the operator decides it:

- ``ConflictError`` (a lost write race, an expired watch): temporary, 1 s.
  Someone wrote first; read again and decide afresh.
- ``ClusterError`` (the API server unreachable or failing): temporary, 10 s.
  It heals on its own; do not hammer a struggling server.
- ``InvalidInputError``, ``ValidationFailedError``: permanent, a ``StalledError``.
  The same spec fails the same way; the user has to change it.
- ``NotFoundError``: nothing to do. The object, or what it needs, is gone, and
  its deletion is an event of its own.
- any other ``FactoryError`` (the engine, a workspace, a missing tool):
  temporary, 30 s. Not the user's input; it may heal.

A temporary error that repeats doubles its delay each time, up to 5 minutes
(``backoff``).

A ``StalledError`` is recorded on the object as a Stalled condition (reason
and message, ``observedGeneration``) by the core's status writer, so
``kubectl get``, ``kubectl wait`` and ``sf run status`` show it, and the object
is not tried again until its spec (or its product's) changes. Anything that is
not a ``FactoryError`` is a bug: it is not translated, keeps its traceback, and
kopf retries the handler after its backoff.
"""

from __future__ import annotations

import kopf

from factoryos.controlplane import retry_delay
from factoryos.errors import (
    ClusterError,
    ConflictError,
    FactoryError,
    InvalidInputError,
    NotFoundError,
    ValidationFailedError,
)

#: A lost write race: read again almost at once.
CONFLICT_DELAY = 1.0
#: The API server did not answer properly: give it a moment.
CLUSTER_DELAY = 10.0
#: Anything else that is not the user's input: look again at the resync pace.
OTHER_DELAY = 30.0
#: Repeated temporary errors double their delay up to this.
MAX_DELAY = 300.0


class StalledError(kopf.PermanentError):
    """Permanent: the object cannot progress with its current spec.

    ``reason`` (one CamelCase word) and the message become its Stalled condition.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def translate(error: FactoryError) -> kopf.TemporaryError | StalledError | None:
    """kopf's answer to ``error`` from a reconcile pass (see the module docstring); None:
    nothing to do."""
    if isinstance(error, NotFoundError):
        return None
    if isinstance(error, InvalidInputError):
        reason = "ValidationFailed" if isinstance(error, ValidationFailedError) else "InvalidInput"
        return StalledError(reason, str(error))
    if isinstance(error, ConflictError):
        return kopf.TemporaryError(str(error), delay=CONFLICT_DELAY)
    if isinstance(error, ClusterError):
        return kopf.TemporaryError(str(error), delay=CLUSTER_DELAY)
    return kopf.TemporaryError(str(error), delay=OTHER_DELAY)


def backoff(delay: float | None, failures: int) -> float:
    """The wait before retry number ``failures`` (from 1) of an error asking for ``delay``:
    the delay, doubled for each failure in a row before it, at most ``MAX_DELAY`` (the
    same pacing as the embedded loop's, ``factoryos.controlplane.retry_delay``)."""
    return retry_delay(delay or 0.0, failures, MAX_DELAY)
