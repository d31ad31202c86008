"""The operator answers each kind of core error the way kopf understands (translate)."""

from __future__ import annotations

import kopf
import pytest

from factoryos.controller.error_mapping import (
    CLUSTER_DELAY,
    CONFLICT_DELAY,
    MAX_DELAY,
    OTHER_DELAY,
    StalledError,
    backoff,
    translate,
)
from factoryos.errors import (
    ClusterError,
    ConflictError,
    EngineError,
    ExpiredError,
    FactoryError,
    InvalidInputError,
    NotFoundError,
    ToolMissingError,
    ValidationFailedError,
    WorkspaceError,
)


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (ConflictError("run r was changed by someone else"), CONFLICT_DELAY),
        (ExpiredError("watch from version 3 is too old"), CONFLICT_DELAY),
        (ClusterError("run r: cannot reach the API server"), CLUSTER_DELAY),
        (EngineError("kilroy crashed"), OTHER_DELAY),
        (WorkspaceError("disk full"), OTHER_DELAY),
        (ToolMissingError("no kilroy"), OTHER_DELAY),
        (FactoryError("something else"), OTHER_DELAY),
    ],
)
def test_what_may_heal_is_temporary_with_a_delay(error: FactoryError, delay: float) -> None:
    answer = translate(error)
    assert isinstance(answer, kopf.TemporaryError)
    assert answer.delay == delay
    assert str(answer) == str(error)


def test_conflicts_are_retried_sooner_than_an_unreachable_api_server() -> None:
    assert CONFLICT_DELAY < CLUSTER_DELAY <= OTHER_DELAY


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (InvalidInputError("Job r-c0-1 is invalid: name too long"), "InvalidInput"),
        (ValidationFailedError("invalid run r: spec.goal must not be empty"), "ValidationFailed"),
    ],
)
def test_bad_input_is_permanent_and_says_why(error: FactoryError, reason: str) -> None:
    answer = translate(error)
    assert isinstance(answer, StalledError) and isinstance(answer, kopf.PermanentError)
    assert answer.reason == reason
    assert str(answer) == str(error)


def test_a_missing_object_needs_nothing() -> None:
    assert translate(NotFoundError("run r not found")) is None


def test_a_repeated_temporary_error_doubles_its_delay_up_to_a_limit() -> None:
    assert [backoff(10.0, n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert backoff(10.0, 30) == MAX_DELAY
    assert backoff(None, 3) == 0.0
