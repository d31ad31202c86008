"""The ``ResourceStore`` port: what the core needs from a store of Products and Runs.

Semantics follow the Kubernetes API server, so ``LocalStore`` and the
operator's ``KubeStore`` are interchangeable behind it:

- ``metadata.resourceVersion`` changes on every write; ``update`` and
  ``update_status`` refuse a resource whose version is stale
  (``ConflictError``), so a read-modify-write never loses someone else's write.
- ``metadata.generation`` is bumped when, and only when, ``spec`` changes.
- ``update`` writes spec and metadata, never status; ``update_status`` writes
  status only (the controller is its one writer).
- ``delete`` of a resource with finalizers only sets ``deletionTimestamp``; the
  resource goes away when the last finalizer is removed by ``update``.
- ``watch`` returns every change after a store version, oldest first.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from factoryos.errors import ConflictError
from factoryos.models import Product, Run

R = TypeVar("R", Product, Run)


class WatchEventType(StrEnum):
    """What happened to a resource."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change: the resource as it is after the change (before it, for DELETED)."""

    type: WatchEventType
    resource: Product | Run
    #: The store version of this change; pass it back to ``watch`` to continue.
    version: int


class ApplyResult(StrEnum):
    """What ``apply`` did, in kubectl's words."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"


class ResourceStore(Protocol):
    """Products and Runs with Kubernetes API semantics (see the module docstring)."""

    def get(self, kind: type[R], name: str, namespace: str = "default") -> R:
        """The resource, or ``NotFoundError``."""
        ...

    def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> builtins.list[R]:
        """Resources of ``kind`` (in ``namespace``, or all), matching every label given."""
        ...

    def version(self) -> int:
        """The store's current version: ``watch(since=version())`` sees only later changes."""
        ...

    def create(self, resource: R) -> R:
        """Store a new resource (``ConflictError`` if the name is taken); sets uid and versions."""
        ...

    def apply(self, resource: R) -> tuple[R, ApplyResult]:
        """Create the resource, or replace the spec, labels and annotations of the stored one.

        Like ``kubectl apply``: no resourceVersion is needed, status and the
        other metadata are kept.
        """
        ...

    def update(self, resource: R) -> R:
        """Write spec and metadata; ``resource.metadata.resourceVersion`` must be current."""
        ...

    def update_status(self, resource: R) -> R:
        """Write status only; ``resource.metadata.resourceVersion`` must be current."""
        ...

    def delete(self, kind: type[R], name: str, namespace: str = "default") -> R | None:
        """Delete now (returns None) or, with finalizers, mark for deletion (returns it)."""
        ...

    def watch(self, since: int, timeout: float) -> builtins.list[WatchEvent]:
        """Changes after version ``since``, waiting up to ``timeout`` seconds for the first."""
        ...


def modify(
    store: ResourceStore,
    kind: type[R],
    name: str,
    namespace: str,
    change: Callable[[R], None],
    *,
    attempts: int = 5,
) -> R:
    """Read, ``change`` in place, and ``update``; retried when another writer got there first."""
    for attempt in range(attempts):
        resource = store.get(kind, name, namespace)
        change(resource)
        try:
            return store.update(resource)
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
