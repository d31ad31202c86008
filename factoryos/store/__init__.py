"""Where Products and Runs are kept: the ``ResourceStore`` port and its local implementation.

The reconcile loop, ``sf`` and the dashboard talk to a ``ResourceStore``;
``LocalStore`` keeps resources in SQLite under ``$FACTORYOS_HOME`` (the
embedded mode), and the operator's ``KubeStore`` keeps them as custom
resources. Both give the same guarantees: ``resourceVersion`` optimistic
concurrency, ``generation`` bumped on spec changes, deletion held back by
finalizers, and a watch of every change in order.
"""

from factoryos.store.port import (
    ApplyResult,
    ResourceStore,
    WatchEvent,
    WatchEventType,
    modify,
)
from factoryos.store.sqlite import LocalStore

__all__ = [
    "ApplyResult",
    "LocalStore",
    "ResourceStore",
    "WatchEvent",
    "WatchEventType",
    "modify",
]
