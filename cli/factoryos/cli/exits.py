"""The exit statuses of ``sf``: the CLI's own table, from the core's error tree.

The core raises ``factoryos.errors`` exceptions and knows nothing of processes;
``sf`` turns the error that reaches its edge into one line on stderr and the
status below, found along the exception's class hierarchy (a
``ValidationFailedError`` is an ``InvalidInputError``, so it exits 2):

======  ====================================================  ==========================
status  meaning                                               error
======  ====================================================  ==========================
0       success
1       the run, check or gate failed; any other error        ``FactoryError``
2       invalid input (a bad file, field, flag or name)       ``InvalidInputError``
3       not found (a product, run or file)                    ``NotFoundError``
4       conflict (a name taken, a stale write, active runs)   ``ConflictError``
6       the control plane (``sf up``) is not running          ``ControlPlaneDownError``
127     a tool is missing (Kilroy, git) or too old            ``ToolMissingError``
======  ====================================================  ==========================

Some commands pass on another process's status instead (``sf product deploy``
exits with the deploy script's, ``sf pipeline validate`` 1 for errors and 2 for
warnings only); their help says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from factoryos.cli.factory import ControlPlaneDownError
from factoryos.errors import (
    ConflictError,
    FactoryError,
    InvalidInputError,
    NotFoundError,
    ToolMissingError,
)

#: Exit status by error class; a subclass not listed takes its nearest listed base's.
EXIT_STATUSES: Mapping[type[FactoryError], int] = {
    FactoryError: 1,
    InvalidInputError: 2,
    NotFoundError: 3,
    ConflictError: 4,
    ControlPlaneDownError: 6,
    ToolMissingError: 127,
}


def exit_status(error: FactoryError) -> int:
    """The status ``sf`` exits with for ``error`` (see the module docstring)."""
    for cls in type(error).__mro__:
        status = EXIT_STATUSES.get(cls)
        if status is not None:
            return status
    return 1
