"""``sf``'s exit statuses come from its own table, along each error's class hierarchy."""

from __future__ import annotations

import pytest

from factoryos.cli.exits import EXIT_STATUSES, exit_status
from factoryos.cli.factory import ControlPlaneDownError
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
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (FactoryError("x"), 1),
        (EngineError("x"), 1),
        (ClusterError("x"), 1),
        (InvalidInputError("x"), 2),
        (ValidationFailedError("x", ["y"]), 2),
        (NotFoundError("x"), 3),
        (ConflictError("x"), 4),
        (ExpiredError("x"), 4),
        (ControlPlaneDownError("x"), 6),
        (ToolMissingError("x"), 127),
    ],
)
def test_each_error_exits_with_its_status(error: FactoryError, status: int) -> None:
    assert exit_status(error) == status


def test_a_subclass_defined_elsewhere_takes_its_base_s_status() -> None:
    class UnsupportedThingError(InvalidInputError):
        pass

    assert exit_status(UnsupportedThingError("x")) == 2


def test_the_core_errors_carry_no_exit_status() -> None:
    assert all(not hasattr(cls, "exit_code") for cls in EXIT_STATUSES)


def test_the_table_in_the_docstring_matches() -> None:
    import factoryos.cli.exits as exits

    rows = [line for line in (exits.__doc__ or "").splitlines() if line[:1].isdigit()]
    for cls, status in EXIT_STATUSES.items():
        row = next(row for row in rows if row.endswith(f"``{cls.__name__}``"))
        assert row.split()[0] == str(status), row
