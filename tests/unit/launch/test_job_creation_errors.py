"""Creating a runner object: already there is done, invalid is the input's fault, the rest
is the cluster's (what the operator then retries, stalls or ignores)."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from factoryos.errors import ClusterError, ValidationFailedError
from factoryos.launch.jobs.launcher import _create


def refused(status: int, message: str = "") -> ApiException:
    exc = ApiException(status=status, reason="Refused")
    exc.body = json.dumps({"kind": "Status", "message": message, "code": status})
    return exc


def raising(exc: Exception) -> None:
    raise exc


def test_an_object_that_already_exists_counts_as_created() -> None:
    _create(lambda: raising(refused(409, "already exists")))


def test_an_invalid_object_is_a_validation_failure_with_the_servers_message() -> None:
    message = 'Job.batch "r-c0-1" is invalid: spec.template.labels: must be no more than 63 bytes'
    with pytest.raises(ValidationFailedError) as failed:
        _create(lambda: raising(refused(422, message)))
    assert str(failed.value) == f"the API server refused a runner object: {message}"
    assert failed.value.problems == [message]


def test_any_other_refusal_is_the_clusters() -> None:
    with pytest.raises(ClusterError):
        _create(lambda: raising(refused(503, "etcd is unavailable")))
