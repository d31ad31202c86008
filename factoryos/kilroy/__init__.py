"""The Kilroy adapter: Factory OS runs Attractor pipelines through the Kilroy binary.

Kilroy (``github.com/danshapiro/kilroy``, pinned to v0.1.0) is a Go program run
as a subprocess. This package is the only place that knows its command line,
its run config and its ``logs_root`` files; callers (``factoryos.runner``, the
CLI, the controller) use the names below.

- ``find_kilroy`` → ``KilroyBinary``; ``Kilroy(binary, settings)`` runs it:
  ``validate``, ``start(RunSpec)`` / ``resume`` → ``KilroyProcess``, ``status``
  → ``RunSnapshot``, ``stop`` → ``StopResult``.
- ``follow_progress`` (``follow_progress_lines`` with line numbers) yields
  Kilroy's progress events while a run goes on; ``translate_progress`` turns
  each into Factory OS events.
- ``read_outcome`` / ``KilroyProcess.outcome`` → ``RunOutcome``;
  ``LogsRoot`` reads any run's files.

Where Kilroy v0.1.0 differs from the contract in
``shared/reference/kilroy-contract.md`` (which describes a later commit), the
module that copes with it says so; ``docs/decisions.md`` lists the differences.

Each name is imported on first use (``factoryos.imports``): ``sf pipeline run``
starts Kilroy's validation before it loads the adapter, and follows the run with
modules it imports once Kilroy runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.kilroy.adapter import Kilroy
    from factoryos.kilroy.binary import PINNED_VERSION, KilroyBinary, find_kilroy
    from factoryos.kilroy.follow import follow_progress, follow_progress_lines
    from factoryos.kilroy.logsroot import LogsRoot, NodeArtifact
    from factoryos.kilroy.outcome import RunOutcome, read_outcome
    from factoryos.kilroy.process import KilroyProcess
    from factoryos.kilroy.runspec import CxdbEndpoint, RunSpec
    from factoryos.kilroy.status import RunSnapshot
    from factoryos.kilroy.stopping import StopResult
    from factoryos.kilroy.translate import translate_progress
    from factoryos.kilroy.validation import Diagnostic, FileValidation

__all__ = [
    "PINNED_VERSION",
    "CxdbEndpoint",
    "Diagnostic",
    "FileValidation",
    "Kilroy",
    "KilroyBinary",
    "KilroyProcess",
    "LogsRoot",
    "NodeArtifact",
    "RunOutcome",
    "RunSnapshot",
    "RunSpec",
    "StopResult",
    "find_kilroy",
    "follow_progress",
    "follow_progress_lines",
    "read_outcome",
    "translate_progress",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "PINNED_VERSION": "factoryos.kilroy.binary",
        "CxdbEndpoint": "factoryos.kilroy.runspec",
        "Diagnostic": "factoryos.kilroy.validation",
        "FileValidation": "factoryos.kilroy.validation",
        "Kilroy": "factoryos.kilroy.adapter",
        "KilroyBinary": "factoryos.kilroy.binary",
        "KilroyProcess": "factoryos.kilroy.process",
        "LogsRoot": "factoryos.kilroy.logsroot",
        "NodeArtifact": "factoryos.kilroy.logsroot",
        "RunOutcome": "factoryos.kilroy.outcome",
        "RunSnapshot": "factoryos.kilroy.status",
        "RunSpec": "factoryos.kilroy.runspec",
        "StopResult": "factoryos.kilroy.stopping",
        "find_kilroy": "factoryos.kilroy.binary",
        "follow_progress": "factoryos.kilroy.follow",
        "follow_progress_lines": "factoryos.kilroy.follow",
        "read_outcome": "factoryos.kilroy.outcome",
        "translate_progress": "factoryos.kilroy.translate",
    },
)
