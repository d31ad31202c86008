"""Kilroy's short commands (``validate``, ``status``), and a validation that runs while its
caller goes on.

A short command is no part of a run: it runs from the Kilroy state dir (Kilroy
loads ``.env`` from its cwd) with ``kilroy_env`` for no run (no process marker),
no stdin, and a minute to answer. ``Kilroy`` runs its ``validate`` and ``status``
through ``run_quick`` and ``start_validation``.

``start_validation`` starts ``kilroy attractor validate --batch FILE... --json``
and returns at once; ``PendingValidation.result`` waits for it. ``sf pipeline
run`` starts it as soon as it has found its Kilroy, loads the adapter and the
runner while Kilroy validates (a Go start, 15-50 ms), and the runner waits for
the result before it writes or starts anything (``PipelineRunner.run``'s
``validation``); given a ``cache`` (``validation_cache``), a file Kilroy found
valid before, unchanged since, is not given to Kilroy again. This module imports
only what starting it takes, so that the rest really is loaded meanwhile.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from factoryos.errors import EngineError, WorkspaceError
from factoryos.kilroy.environment import kilroy_env
from factoryos.kilroy.validation import FileValidation, parse_batch_output, precheck_file
from factoryos.kilroy.validation_cache import remember_valid, remembered_valid
from factoryos.settings import Settings

__all__ = [
    "QUICK_TIMEOUT_SECONDS",
    "PendingValidation",
    "run_quick",
    "start_validation",
    "state_dir",
]

#: How long a short command may take before it is killed and reported.
QUICK_TIMEOUT_SECONDS = 60
#: The exit statuses of ``attractor validate --batch`` that come with findings on stdout.
_VALIDATE_EXIT_CODES = {0, 1, 2}


def state_dir(settings: Settings) -> Path:
    """The Kilroy state dir (``XDG_STATE_HOME`` of every Kilroy we run), created if missing."""
    state = settings.kilroy_state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create Kilroy state dir {state}: {exc.strerror}") from exc
    return state


def run_quick(
    binary: Path, args: Sequence[str], settings: Settings, base_env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``binary ARGS`` as a short command and wait for it."""
    return run_to_end(_start(binary, args, settings, base_env), args)


def _start(
    binary: Path, args: Sequence[str], settings: Settings, base_env: Mapping[str, str]
) -> subprocess.Popen[str]:
    state = state_dir(settings)  # its cwd, and its XDG_STATE_HOME: no part of a run
    env = kilroy_env(base_env, state_dir=state, logs_root=None, tools_dir=settings.tools_dir)
    try:
        return subprocess.Popen(
            [str(binary), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=state,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise EngineError(f"cannot run {binary}: {exc}") from exc


def start_validation(
    binary: Path,
    files: Sequence[Path],
    settings: Settings,
    base_env: Mapping[str, str],
    *,
    cache: Path | None = None,
) -> PendingValidation:
    """Start validating ``files`` (what ``precheck_file`` rejects never reaches Kilroy, nor
    what ``cache`` remembers valid)."""
    prechecked = [precheck_file(Path(f)) for f in files]
    if cache is not None:
        for i, f in enumerate(files):
            if prechecked[i] is None and remembered_valid(cache, Path(f), binary):
                prechecked[i] = FileValidation(Path(f))
    pending = [Path(f).absolute() for f, found in zip(files, prechecked, strict=True) if not found]
    args = ["attractor", "validate", "--batch", *map(str, pending), "--json"]
    proc = _start(binary, args, settings, base_env) if pending else None
    remember = None if cache is None else (cache, binary)
    return PendingValidation(files, prechecked, pending, proc, args, remember=remember)


class PendingValidation:
    """A validation under way: ``result`` waits for Kilroy's findings (once; then kept)."""

    def __init__(
        self,
        files: Sequence[Path],
        prechecked: list[FileValidation | None],
        pending: list[Path],
        proc: subprocess.Popen[str] | None,
        args: Sequence[str],
        *,
        remember: tuple[Path, Path] | None = None,
    ) -> None:
        #: The files as the caller named them, in order.
        self.files = list(files)
        self._results = prechecked
        self._pending = pending
        self._proc = proc
        self._args = list(args)
        self._done = proc is None
        #: Where to remember the files Kilroy finds valid, and the Kilroy binary.
        self._remember = remember

    def result(self) -> list[FileValidation]:
        """One result per file, in order: findings, not exceptions (``EngineError`` when
        Kilroy itself failed or did not answer within a minute)."""
        if not self._done:
            assert self._proc is not None
            proc = run_to_end(self._proc, self._args)
            if proc.returncode not in _VALIDATE_EXIT_CODES or not proc.stdout.strip():
                raise EngineError(
                    f"kilroy validate failed (exit {proc.returncode}): {_tail(proc.stderr)}"
                )
            todo = [i for i, found in enumerate(self._results) if found is None]
            found = parse_batch_output(proc.stdout, self._pending)
            for i, one in zip(todo, found, strict=True):
                self._results[i] = one._replace(file=Path(self.files[i]))
                if self._remember is not None and one.ok:
                    remember_valid(self._remember[0], Path(self.files[i]), self._remember[1])
            self._done = True
        return [r for r in self._results if r is not None]


def run_to_end(
    proc: subprocess.Popen[str], args: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """Wait for a started short command, killing it after the timeout."""
    try:
        stdout, stderr = proc.communicate(timeout=QUICK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise EngineError(
            f"kilroy {' '.join(args[:2])} did not answer within {QUICK_TIMEOUT_SECONDS}s"
        ) from exc
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _tail(text: str, lines: int = 10) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(no output)"
