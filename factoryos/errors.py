"""The Factory OS exception tree.

Every error the core raises on purpose is a ``FactoryError``. Adapters catch
``FactoryError`` at their edge and turn it into one clear line and an exit
status from its own table (the CLI), an HTTP problem response (the UI) or a
retry or a Stalled condition (the controller); anything else is a bug and
keeps its traceback. The tree says what went wrong, never how a caller reacts.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class of every error Factory OS reports to a user."""


class InvalidInputError(FactoryError):
    """The user gave us something we cannot use (bad file, bad field, bad flag)."""


class ValidationFailedError(InvalidInputError):
    """A resource or pipeline failed validation; ``problems`` lists each finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ConfigurationError(InvalidInputError):
    """Kilroy refused the run's configuration (a provider, a backend, an agent CLI): the
    same input fails the same way, so it is the run's failure, not one to retry."""


class ToolMissingError(FactoryError):
    """An external tool we need (Kilroy, git, ...) is not installed or too old."""


class EngineError(FactoryError):
    """The pipeline engine (Kilroy) failed in a way that is not the run's outcome."""


class WorkspaceError(FactoryError):
    """A workspace or run directory cannot be created, read or written."""


class NotFoundError(FactoryError):
    """A named thing (resource, run, artifact) does not exist."""


class ConflictError(FactoryError):
    """A write lost an optimistic-concurrency race or collides with existing state."""


class ExpiredError(ConflictError):
    """A watch asked for changes older than the store keeps; list again and re-watch."""


class ClusterError(FactoryError):
    """The Kubernetes API failed in a way that is not about the request (unreachable, 5xx)."""
