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
"""

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
