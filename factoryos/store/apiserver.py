"""``KubeStore``: the ``ResourceStore`` of a cluster, Products and Runs as custom resources.

Used by the operator and by ``sf --context`` against a cluster. The API server
gives the guarantees the port asks for (resourceVersion conflicts, generation,
finalizers, the status subresource); this module maps the calls and turns API
errors into the core's: 404 ``NotFoundError``, 409 ``ConflictError``, 410
``ExpiredError``, 422 ``ValidationFailedError`` with the server's message,
anything else ``ClusterError``. ``resourceVersion`` is etcd's revision, so it
is compared as an integer, as the port does.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from factoryos.apistatus import status_message
from factoryos.errors import (
    ClusterError,
    ConflictError,
    ExpiredError,
    NotFoundError,
    ValidationFailedError,
)
from factoryos.models import Product, Run, dump_resource, parse_as
from factoryos.store.port import ApplyResult, R, WatchEvent, WatchEventType
from factoryos.version import API_GROUP, API_VERSION

PLURALS: dict[str, str] = {"Product": "products", "Run": "runs"}
#: Metadata the API server owns; never sent back on create.
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                  "deletionTimestamp", "deletionGracePeriodSeconds")  # fmt: skip


class KubeStore:
    """Products and Runs in a Kubernetes API server (``factoryos.dev/v1alpha1``)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._objects = client.CustomObjectsApi(api)

    def get(self, kind: type[R], name: str, namespace: str = "default") -> R:
        with _translated(kind, name):
            body = self._objects.get_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, _plural(kind), name
            )
        return _load(kind, body)

    def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> builtins.list[R]:
        selector = ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or None
        with _translated(kind, "*"):
            if namespace is None:
                found = self._objects.list_cluster_custom_object(
                    API_GROUP, API_VERSION, _plural(kind), label_selector=selector
                )
            else:
                found = self._objects.list_namespaced_custom_object(
                    API_GROUP, API_VERSION, namespace, _plural(kind), label_selector=selector
                )
        items = [_load(kind, item) for item in _dict(found).get("items", [])]
        return sorted(items, key=lambda r: (r.metadata.namespace, r.metadata.name))

    def version(self) -> int:
        versions = []
        for plural in PLURALS.values():
            with _translated(Product, "*"):
                found = self._objects.list_cluster_custom_object(
                    API_GROUP, API_VERSION, plural, limit=1
                )
            versions.append(int(_dict(found)["metadata"]["resourceVersion"]))
        return max(versions)

    def create(self, resource: R) -> R:
        body = _body(resource)
        for field in _SERVER_FIELDS:
            body["metadata"].pop(field, None)
        body.pop("status", None)
        meta = resource.metadata
        with _translated(type(resource), meta.name):
            created = self._objects.create_namespaced_custom_object(
                API_GROUP, API_VERSION, meta.namespace, _plural(type(resource)), body
            )
        return _load(type(resource), created)

    def apply(self, resource: R) -> tuple[R, ApplyResult]:
        kind, meta = type(resource), resource.metadata
        try:
            stored = self.get(kind, meta.name, meta.namespace)
        except NotFoundError:
            return self.create(resource), ApplyResult.CREATED
        if stored.metadata.deletion_timestamp is not None:
            raise ConflictError(f"{kind.__name__.lower()} {meta.name!r} is being deleted")
        new = stored.model_copy(deep=True)
        new.spec = resource.spec.model_copy(deep=True)
        new.metadata.labels = dict(meta.labels)
        new.metadata.annotations = dict(meta.annotations)
        if dump_resource(new) == dump_resource(stored):
            return stored, ApplyResult.UNCHANGED
        return self.update(new), ApplyResult.CONFIGURED

    def update(self, resource: R) -> R:
        kind, meta = type(resource), resource.metadata
        _require_version(resource)
        body = _body(resource)
        body.pop("status", None)
        with _translated(kind, meta.name):
            updated = self._objects.replace_namespaced_custom_object(
                API_GROUP, API_VERSION, meta.namespace, _plural(kind), meta.name, body
            )
        return _load(kind, updated)

    def update_status(self, resource: R) -> R:
        kind, meta = type(resource), resource.metadata
        _require_version(resource)
        with _translated(kind, meta.name):
            updated = self._objects.replace_namespaced_custom_object_status(
                API_GROUP, API_VERSION, meta.namespace, _plural(kind), meta.name, _body(resource)
            )
        return _load(kind, updated)

    def delete(self, kind: type[R], name: str, namespace: str = "default") -> R | None:
        with _translated(kind, name):
            self._objects.delete_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, _plural(kind), name
            )
        try:
            return self.get(kind, name, namespace)  # still there: finalizers hold it
        except NotFoundError:
            return None

    def watch(self, since: int, timeout: float) -> builtins.list[WatchEvent]:
        """Changes of both kinds after ``since``: one short watch per kind, merged by version."""
        events: builtins.list[WatchEvent] = []
        per_kind = max(1, math.ceil(timeout / len(PLURALS)))
        kinds: tuple[type[Product] | type[Run], ...] = (Product, Run)
        for kind in kinds:
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            with _translated(kind, "*"):
                for item in stream.stream(  # type: ignore[no-untyped-call]
                    self._objects.list_cluster_custom_object,
                    API_GROUP,
                    API_VERSION,
                    _plural(kind),
                    resource_version=str(since),
                    timeout_seconds=per_kind,
                ):
                    obj = item["raw_object"]
                    if item["type"] == "ERROR":
                        if obj.get("code") == 410:
                            raise ExpiredError(f"watch from version {since} is too old; list again")
                        raise ClusterError(f"watch failed: {obj.get('message')}")
                    if item["type"] not in WatchEventType.__members__:
                        continue
                    resource: Product | Run = (
                        _load(Product, obj) if kind is Product else _load(Run, obj)
                    )
                    version = int(resource.metadata.resource_version or 0)
                    events.append(WatchEvent(WatchEventType(item["type"]), resource, version))
        return sorted(events, key=lambda e: e.version)


def _plural(kind: type[Product] | type[Run]) -> str:
    return PLURALS[kind.__name__]


def _dict(value: object) -> dict[str, Any]:
    """A decoded API response (the client types them as ``object``)."""
    if not isinstance(value, dict):
        raise ClusterError(f"unexpected API response: {type(value).__name__}")
    return value


def _body(resource: Product | Run) -> dict[str, Any]:
    return dump_resource(resource)


def _load(kind: type[R], body: Any) -> R:
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    return parse_as(kind, body)


def _require_version(resource: Product | Run) -> None:
    if resource.metadata.resource_version is None:
        raise ConflictError(
            f"{resource.kind.lower()} {resource.metadata.name!r}: an update must carry "
            "metadata.resourceVersion"
        )


@contextmanager
def _translated(kind: type[Product] | type[Run], name: str) -> Iterator[None]:
    """API errors as the core's errors, with the server's own message."""
    what = f"{kind.__name__.lower()} {name!r}"
    try:
        yield
    except ApiException as exc:
        message = status_message(exc.body, exc.reason)
        if exc.status == 404:
            raise NotFoundError(f"{what} not found") from None
        if exc.status == 409:
            if "already exists" in message:
                raise ConflictError(f"{what} already exists") from None
            raise ConflictError(f"{what} was changed by someone else ({message})") from None
        if exc.status == 410:
            raise ExpiredError(f"{message}; list again") from None
        if exc.status == 422:
            raise ValidationFailedError(f"invalid {what}: {message}", [message]) from None
        raise ClusterError(f"{what}: the API server answered {exc.status}: {message}") from None
    except OSError as exc:
        raise ClusterError(f"{what}: cannot reach the API server: {exc}") from None
