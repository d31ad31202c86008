"""``LocalProcessLauncher``: each runner workload is a local process in its own session.

The process runs the runner entrypoint (``factoryos.worker.main``, the
same function ``python -m factoryos.runner <spec.json>`` calls in a Job pod)
for ``<run>/workloads/<name>/spec.json``, with the control plane's environment
(its Python's ``bin`` first on PATH, so pipeline tool nodes find the same
interpreter). By default it is forked from a fork server that imported the
runner once when the launcher was made (``factoryos.launch.forkserver``), so
a workload starts in milliseconds instead of paying Python's start-up and
imports each time (``bench/controlplane.py`` measures both); with
``prewarm=False``, or if the fork server is gone, it is a fresh
``python -m factoryos.runner``. ``start`` does not wait for the fork server's
answer: runs started in a row are forked while the control plane goes on with its
passes, and a run's workloads are looked at only once the server has answered for
them. A forked runner's session group starts at the nice value ``niceness`` (``sf up``
gives ``Settings.build_nice``) until its Kilroy runs, so with many runners cloning and
starting Kilroy the control plane's short passes and the fork server are not queued
behind them (``factoryos.launch.forkserver``). Either way it runs in a new session, so
Ctrl-C in the terminal of ``sf up`` does not reach it and it survives a
control plane that is killed; the pid and the process's start time go to
``process.json`` (``launch.processrecord``), which lets a restarted control plane adopt it (a reused
pid never matches). A runner that ended leaves ``result.json``; one that
vanished without it is reported as an ``error`` result, so the reconcile
retries it from its checkpoint, once what its candidate left running
(Kilroy's tool processes) has been ended. The fork server ends with the
control plane, however it dies (``factoryos.parent_death``).

When it is made it probes whether candidates can be sandboxed here
(``isolation``: bubblewrap, ``factoryos.kilroy.sandbox``); where they can, each
spec it writes says ``sandbox: true``: a build's runner starts Kilroy inside
one, an evaluation runs each candidate's verifiers, service and scenario
commands inside one (the evaluation itself reads the holdouts). Where they
cannot, a product with ``spec.isolation: required`` is refused (``blocker``:
``IsolationUnavailable``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from factoryos.errors import WorkspaceError
from factoryos.kilroy.agent_clis import preflight
from factoryos.kilroy.environment import agent_search_path
from factoryos.kilroy.logsroot import LogsRoot
from factoryos.kilroy.procs import kill_processes, pid_alive, run_processes, signal_group
from factoryos.kilroy.sandbox import find_bwrap, probe
from factoryos.launch.liveness import ProcessLiveness
from factoryos.launch.port import WorkloadState
from factoryos.launch.processrecord import write_process_record
from factoryos.models import Isolation
from factoryos.parent_death import die_with_parent
from factoryos.workloads import (
    ISOLATION_UNAVAILABLE,
    OUTPUT_FILE,
    PROCESS_FILE,
    RESULT_FILE,
    SPEC_FILE,
    EvaluationReport,
    RunDirectory,
    Sandboxing,
    WorkloadKind,
    WorkloadResult,
    WorkloadSpec,
    WorkloadStatus,
    parse_workload_name,
    read_report,
    read_result,
)

#: Seconds after the grace period before a workload that ignores its stop is killed.
KILL_MARGIN_SECONDS = 10.0
#: Seconds a lost runner's Kilroy gets to finish cancelling (it was sent SIGTERM when its
#: runner died) before what is left of the candidate's processes is killed.
KILROY_CANCEL_SECONDS = 3.0


class _Child(Protocol):
    """A runner process this launcher started and can reap."""

    @property
    def pid(self) -> int: ...

    def exit_code(self) -> int | None: ...


class _Exec:
    """A runner started as a fresh process: our child, so we reap it and see its exit code."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @property
    def pid(self) -> int:
        return self._popen.pid

    def exit_code(self) -> int | None:
        return self._popen.poll()


@dataclass(frozen=True)
class _Record:
    """A workload's ``process.json`` as read, with the identity of the file read (device,
    inode, mtime): it is written once per workload folder, whole (``processrecord``), so
    the launcher parses it once and a folder made again (a run deleted and created anew)
    has a new file."""

    identity: tuple[int, int, int]
    #: Where the runner writes ``result.json``.
    result_file: str
    pid: int
    start_ticks: int
    started_at: datetime
    kind: WorkloadKind
    candidate: int
    attempt: int


@dataclass(frozen=True)
class _Listing:
    """The workload folders of a run, as listed when its folder had this identity."""

    root: Path
    identity: tuple[int, int]
    folders: list[Path]


class _ForkServer:
    """The client side of ``factoryos.launch.forkserver``: asks without waiting for the
    answer, and waits for the answers only to the requests a caller is about to look at."""

    def __init__(self, python: str, env: dict[str, str]) -> None:
        # It keeps no state: when the control plane dies, even by SIGKILL, it goes too
        # (its runners do not: a fork's child does not inherit the parent-death signal).
        self._proc = subprocess.Popen(
            [python, "-m", "factoryos.launch.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        #: The process.json of each request not answered yet, in the order asked.
        self._asked: deque[Path] = deque()
        self._partial = b""

    @property
    def pid(self) -> int:
        return self._proc.pid

    def ask(self, spec_file: Path, output: Path, process: Path, env: dict[str, str],
            niceness: int) -> bool:  # fmt: skip
        """Ask for a runner, recorded at ``process`` before the server answers; False when
        the server is gone. Reads the answers already there, never waits for one."""
        stdin = self._proc.stdin
        if stdin is None or self._proc.poll() is not None:
            return False
        request = {"spec": str(spec_file), "output": str(output), "process": str(process),
                   "niceness": niceness, "env": env}  # fmt: skip
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        self._asked.append(process)
        self._read(wait=False)
        return True

    def asked(self, process: Path) -> bool:
        """Whether a runner for ``process`` was asked for and not answered yet."""
        return process in self._asked

    def settle(self, concerns: Callable[[Path], bool]) -> list[Path]:
        """Wait until no request that ``concerns`` is unanswered. Returns the requests the
        server will never answer (it is gone: each was forked only if it is recorded)."""
        while any(concerns(p) for p in self._asked):
            if not self._read(wait=True):
                lost = list(self._asked)
                self._asked.clear()
                return lost
        return []

    def _read(self, *, wait: bool) -> bool:
        """Take in the answers there (``wait``: at least one); False when the server is gone."""
        stdout = self._proc.stdout
        if stdout is None:
            return False
        fd = stdout.fileno()
        if not wait and not select.select([fd], [], [], 0)[0]:
            return True
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        *answers, self._partial = (self._partial + chunk).split(b"\n")
        for _ in answers:
            self._asked.popleft()
        return True

    def close(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)


class LocalProcessLauncher:
    """Starts runner workloads as local processes under ``runs_dir``."""

    #: A local process is not retried by anyone else: the reconcile retries it.
    retries_errors = False

    def __init__(
        self,
        runs_dir: Path,
        env: Mapping[str, str],
        *,
        python: str = sys.executable,
        prewarm: bool = True,
        tools_dir: Path | None = None,
        sandbox: bool = True,
        niceness: int = 0,
    ) -> None:
        self._runs_dir = runs_dir
        self._niceness = niceness
        #: Where ``make tools`` put the pinned agent CLIs (first on Kilroy's PATH).
        self._tools_dir = tools_dir
        self._python = python
        bin_dir = str(Path(python).parent)
        path = env.get("PATH", "")
        self._env = {**env, "PATH": f"{bin_dir}{os.pathsep}{path}" if path else bin_dir}
        #: Whether candidates run sandboxed here: probed once (``sandbox=False``: off).
        self.isolation = (
            probe(find_bwrap(self._env.get("PATH", "")))
            if sandbox
            else Sandboxing(False, "SandboxOff", "FACTORYOS_SANDBOX=0 turned the sandbox off")
        )
        self._forks = _ForkServer(python, self._env) if prewarm else None
        #: Processes this launcher started: polled, so they are reaped when they exit.
        self._children: dict[Path, _Child] = {}
        #: When a stop was first requested, by workload directory.
        self._stopping: dict[Path, float] = {}
        #: The process record of each workload seen running, by workload directory.
        self._records: dict[Path, _Record] = {}
        self._liveness = ProcessLiveness()
        #: The workload folders of each run with one running, by (namespace, run).
        self._listings: dict[tuple[str, str], _Listing] = {}

    def start(self, spec: WorkloadSpec) -> None:
        folder = RunDirectory.of(self._runs_dir, spec.namespace, spec.run).workload(spec.name)
        process = folder / PROCESS_FILE
        if process.exists() or (self._forks is not None and self._forks.asked(process)):
            return
        if self.isolation.isolated:  # a build's Kilroy, an evaluation's candidate code
            spec = spec.model_copy(update={"sandbox": True})
        try:
            folder.mkdir(parents=True, exist_ok=True)
            spec_file = folder / SPEC_FILE
            spec_file.write_text(spec.model_dump_json(indent=2) + "\n")
            output = folder / OUTPUT_FILE
            if self._forks is not None and self._forks.ask(
                spec_file, output, process, self._env, self._niceness
            ):
                return  # the fork server records it
            self._start_fresh(folder)  # no fork server (prewarm off, or it died)
        except OSError as exc:
            raise WorkspaceError(f"cannot start runner workload {spec.name}: {exc}") from exc

    def _start_fresh(self, folder: Path) -> None:
        child = self._exec(folder / SPEC_FILE, folder / OUTPUT_FILE)
        self._children[folder] = child
        write_process_record(folder / PROCESS_FILE, child.pid)

    def _settle(self, root: Path) -> None:
        """Wait for the fork server's answers to the runners asked for under ``root``; a
        runner it will never fork (it is gone) is started as a fresh process instead."""
        if self._forks is None:
            return
        for process in self._forks.settle(lambda p: p.is_relative_to(root)):
            if not process.exists():
                try:
                    self._start_fresh(process.parent)
                except OSError as exc:
                    raise WorkspaceError(f"cannot start runner {process.parent}: {exc}") from exc

    def blocker(self, spec: WorkloadSpec) -> tuple[str, str] | None:
        """The CLI or the key of the agent the product chose missing here
        (``agent_clis.preflight``; a product that chose none runs as before: Kilroy checks
        only the providers its agent nodes use). A passEnv name missing here is just not
        passed. Before that, a product that requires isolation where there is none."""
        if spec.isolation is Isolation.REQUIRED and not self.isolation.isolated:
            return ISOLATION_UNAVAILABLE, (
                "the product requires isolation (spec.isolation: required) and candidates "
                f"cannot be sandboxed here: {self.isolation.message}"
            )
        if spec.agent is None or spec.agent_profile != "real" or not spec.agent.configured:
            return None
        env = dict(self._env)
        if self._tools_dir is not None:
            env["PATH"] = agent_search_path(self._tools_dir, env.get("PATH", ""))
        credential = spec.credential.env if spec.credential is not None else None
        failed = [f for f in preflight(spec.agent, env, credential) if not f.ok]
        if not failed:
            return None
        return str(failed[0].reason), "; ".join(f.message for f in failed)

    @property
    def helper_pids(self) -> list[int]:
        """Processes of this launcher that are not workloads (the fork server), for the
        control plane's record of what it started (``controlplane.leftovers``)."""
        return [self._forks.pid] if self._forks is not None else []

    def close(self) -> None:
        """Stop the fork server (running workloads carry on)."""
        self._liveness.close()
        if self._forks is not None:
            self._forks.close()

    def _exec(self, spec_file: Path, output: Path) -> _Child:
        with output.open("ab") as out:
            popen = subprocess.Popen(
                [self._python, "-m", "factoryos.worker", str(spec_file)],
                cwd=spec_file.parent,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return _Exec(popen)

    def workloads(self, namespace: str, run: str) -> list[WorkloadState]:
        # The loop asks this of every active run once a second: a running workload costs a
        # stat of its folder, of its process.json and of its result.json, and a pidfd poll.
        states = []
        for folder in self._folders(namespace, run):
            record = self._record(folder)
            if record is not None:
                states.append(self._state(folder, record))
        if all(not s.running for s in states):
            self._listings.pop((namespace, run), None)
        return sorted(states, key=lambda s: (s.candidate, s.attempt))

    def _folders(self, namespace: str, run: str) -> list[Path]:
        """The entries of the run's ``workloads`` folder, listed again only when it changed.
        A listing is kept only once the folder is a second old, so an entry made within the
        file system's timestamp granularity of the one before is never missed (git's racy
        file rule)."""
        kept = self._listings.get((namespace, run))
        root = kept.root if kept else RunDirectory.of(self._runs_dir, namespace, run).workloads
        self._settle(root)
        try:
            st = os.stat(root)  # noqa: PTH116 (hot: no Path per look)
            if kept is not None and kept.identity == (st.st_ino, st.st_mtime_ns):
                return kept.folders
            folders = [root / name for name in os.listdir(root)]  # noqa: PTH208
        except FileNotFoundError:
            self._listings.pop((namespace, run), None)
            return []
        if time.time_ns() - st.st_mtime_ns > 1_000_000_000:
            self._listings[namespace, run] = _Listing(root, (st.st_ino, st.st_mtime_ns), folders)
        return folders

    def stop(self, namespace: str, run: str, name: str, grace_seconds: float) -> None:
        folder = RunDirectory.of(self._runs_dir, namespace, run).workload(name)
        self._settle(folder)
        record = self._record(folder)
        if record is None or not self._state(folder, record).running:  # ended, or never ran
            self._stopping.pop(folder, None)
            return
        pid = record.pid
        first = self._stopping.setdefault(folder, time.monotonic())
        if time.monotonic() - first < grace_seconds + KILL_MARGIN_SECONDS:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
            return
        # It ignored the stop: kill the runner's session and whatever its Kilroy left.
        signal_group(pid, signal.SIGKILL)
        _end_candidate_processes(folder, grace_seconds=0.5)

    def evaluations(self, namespace: str, run: str) -> dict[int, EvaluationReport]:
        root = RunDirectory.of(self._runs_dir, namespace, run).path / "evaluations"
        found: dict[int, EvaluationReport] = {}
        try:
            folders = list(root.iterdir())
        except FileNotFoundError:
            return found
        for folder in folders:
            if folder.name[:1] == "i" and folder.name[1:].isdigit():
                report = read_report(folder)
                if report is not None:
                    found[int(folder.name[1:])] = report
        return found

    def _record(self, folder: Path) -> _Record | None:
        """The workload's process record (None when it has none: not started, or not a
        workload folder), parsed again only when the file is another one."""
        path = os.path.join(folder, PROCESS_FILE)  # noqa: PTH118 (hot: a string, no Path)
        try:
            st = os.stat(path)  # noqa: PTH116
        except (FileNotFoundError, NotADirectoryError):
            self._records.pop(folder, None)
            self._liveness.forget(folder)
            return None
        identity = (st.st_dev, st.st_ino, st.st_mtime_ns)
        record = self._records.get(folder)
        if record is None or record.identity != identity:
            self._liveness.forget(folder)  # another file: maybe another process
            process = _read_json(Path(path))
            kind, candidate, attempt = parse_workload_name(folder.name)
            pid = int(str(process["pid"]))
            record = _Record(
                identity=identity,
                result_file=os.path.join(folder, RESULT_FILE),  # noqa: PTH118
                pid=pid,
                start_ticks=int(str(process.get("startTicks", 0))),
                started_at=datetime.fromisoformat(str(process["startedAt"])),
                kind=WorkloadKind(kind),
                candidate=candidate,
                attempt=attempt,
            )
            self._records[folder] = record
        return record

    def _state(self, folder: Path, record: _Record) -> WorkloadState:
        ended = os.path.exists(record.result_file)  # noqa: PTH110 (hot: a string, no Path)
        result = read_result(folder) if ended else None
        if result is None and not self._alive(folder, record):
            result = read_result(folder) or self._lost(folder)
        if result is not None:  # it ended: nothing of it changes any more
            self._children.pop(folder, None)
            self._records.pop(folder, None)
            self._liveness.forget(folder)
        return WorkloadState(
            name=folder.name,
            candidate=record.candidate,
            attempt=record.attempt,
            started_at=record.started_at,
            result=result,
            stopping=result is None and folder in self._stopping,
            kind=record.kind,
        )

    def _alive(self, folder: Path, record: _Record) -> bool:
        child = self._children.get(folder)
        if child is not None:
            return child.exit_code() is None
        return self._liveness.alive(folder, record.pid, record.start_ticks)

    def _lost(self, folder: Path) -> WorkloadResult:
        child = self._children.get(folder)
        code = child.exit_code() if child is not None else None
        if code is not None:
            reason = f"the runner exited with status {code} without a result"
            result = WorkloadResult.from_exit_code(code if code >= 0 else 128 - code, reason)
        else:
            result = WorkloadResult(
                status=WorkloadStatus.ERROR,
                reason="the runner process is gone and left no result (lost)",
                finished_at=datetime.now(UTC),
            )
        # A runner that died (SIGKILL, OOM) took its Kilroy along (parent-death signal), but
        # a tool node's forked children outlive Kilroy's cancel: end them before a retry.
        _end_candidate_processes(folder, grace_seconds=KILROY_CANCEL_SECONDS)
        # Record it, so every later look sees the same result (unless the runner won the
        # race): whole or not at all (a full disk must not leave an empty result.json).
        tmp = folder / f".{RESULT_FILE}.lost"
        try:
            tmp.write_text(result.model_dump_json(exclude_none=True) + "\n")
            os.link(tmp, folder / RESULT_FILE)  # fails if the runner's result is there
        except OSError:
            pass  # there already, or no room to write it: the next look decides again
        finally:
            tmp.unlink(missing_ok=True)
        return read_result(folder) or result


def _end_candidate_processes(folder: Path, grace_seconds: float) -> None:
    """End every process of a build workload's candidate run (found by its logs_root marker:
    Kilroy, its tool nodes and agent CLIs, and whatever they forked), after giving Kilroy
    up to ``grace_seconds`` to end by itself."""
    try:
        spec = WorkloadSpec.model_validate_json((folder / SPEC_FILE).read_bytes())
    except (OSError, ValueError):
        return
    if spec.kind is not WorkloadKind.BUILD:
        return
    logs_root = spec.layout.logs_root(spec.candidate)
    kilroy = LogsRoot(logs_root).run_pid()
    deadline = time.monotonic() + grace_seconds
    while kilroy is not None and pid_alive(kilroy) and time.monotonic() < deadline:
        time.sleep(0.05)  # let a cancelling Kilroy write its checkpoint and final.json
    kill_processes(lambda: run_processes(logs_root), grace_seconds=0.5)


def _read_json(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path}: expected a JSON object")
    return data
