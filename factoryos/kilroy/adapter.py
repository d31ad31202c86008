"""``Kilroy``: the one class that runs the Kilroy binary.

The CLI, the runner and the controller build one with ``Kilroy(find_kilroy(settings,
os.environ), settings)`` and call ``validate``, ``start``, ``resume``, ``status``
and ``stop``. Everything else in this package is pure or reads files; this
module is the subprocess edge, with ``quick`` for the short commands (``validate``,
``status``) and ``process`` for the spawn. ``status``, ``stop``, ``resume`` and
a detached start load what they need when called: ``sf pipeline run`` loads this
module while Kilroy validates, and the run's logs and outcome once Kilroy runs.
Kilroy's failures come out as our errors: ``ToolMissingError``, ``WorkspaceError``,
``EngineError``, ``ConflictError``, ``NotFoundError``, ``InvalidInputError``.

The run directory's files are listed in ``layout``. Kilroy always runs with the
run directory as its cwd (it loads ``.env`` from its cwd), no stdin, in a
session of its own, with ``kilroy_env``'s environment.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factoryos.errors import (
    ConflictError,
    EngineError,
    InvalidInputError,
    NotFoundError,
    WorkspaceError,
)
from factoryos.kilroy.binary import KilroyBinary
from factoryos.kilroy.config import write_run_config
from factoryos.kilroy.environment import kilroy_env
from factoryos.kilroy.layout import LAUNCH_FILE, LOGS_DIR, STDERR_FILE, STDOUT_FILE
from factoryos.kilroy.priority import SessionChange
from factoryos.kilroy.process import KilroyProcess, spawn
from factoryos.kilroy.procs import MARKER_ENV
from factoryos.kilroy.quick import PendingValidation, run_quick, start_validation, state_dir
from factoryos.kilroy.runspec import RunSpec
from factoryos.kilroy.sweeper import Sweeper
from factoryos.kilroy.workspace import PendingWorkspace, check_clean, prepare_workspace
from factoryos.settings import Settings

if TYPE_CHECKING:
    from factoryos.kilroy.sandbox import Sandbox
    from factoryos.kilroy.status import RunSnapshot
    from factoryos.kilroy.stopping import StopResult
    from factoryos.kilroy.validation import FileValidation

__all__ = ["Kilroy"]

#: Kilroy's pid file in logs_root.
RUN_PID_FILE = "run.pid"
#: The sandbox's own files in the run directory (the stand-in run.pid).
SANDBOX_DIR = ".sandbox"

#: Seconds a Kilroy whose starter died gets to cancel before its run's processes are killed.
CANCEL_GRACE_SECONDS = 5.0


class Kilroy:
    """Runs one Kilroy binary for one Factory OS home."""

    def __init__(
        self,
        binary: KilroyBinary,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        sandbox: Sandbox | None = None,
        sweeper: Sweeper | None = None,
    ) -> None:
        self.binary = binary
        self.settings = settings
        #: The environment Kilroy's is derived from (default: this process's).
        self._base_env: Mapping[str, str] = os.environ if env is None else env
        #: Where ``start`` and ``resume`` run Kilroy (None: unsandboxed); the short
        #: commands (validate, status, stop) always run outside.
        self.sandbox = sandbox
        #: A sweeper started in standby (``Sweeper.standby``: ``sf pipeline run`` starts one
        #: first of all), told the first attached run outside a sandbox; the others (and
        #: all, without one) get a sweeper started beside them.
        self._standby = sweeper
        self._children: dict[Path, KilroyProcess] = {}

    # -- validate ---------------------------------------------------------------------------

    def validate(self, files: Sequence[Path]) -> list[FileValidation]:
        """Validate pipelines; one result per file, in order, findings instead of exceptions."""
        return self.start_validation(files).result()

    def start_validation(self, files: Sequence[Path]) -> PendingValidation:
        """``validate`` started: its ``result()`` waits for the findings."""
        return start_validation(self.binary.path, files, self.settings, self._base_env)

    # -- run --------------------------------------------------------------------------------

    def start(
        self, spec: RunSpec, *, detach: bool = False, workspace: PendingWorkspace | None = None
    ) -> KilroyProcess:
        """Start ``kilroy attractor run`` for ``spec``; attached unless ``detach``.

        ``workspace``: the look at ``spec.workspace`` started earlier (``start_workspace``:
        ``sf pipeline run`` starts it beside the validation); by default it is done here.
        """
        if workspace is not None and workspace.path != spec.workspace.expanduser().resolve():
            raise ValueError(f"the workspace given is {workspace.path}, not {spec.workspace}")
        graph = spec.graph.expanduser().resolve()
        if not graph.is_file():
            raise InvalidInputError(f"pipeline not found: {spec.graph}")
        run_dir = self._prepare_run_dir(spec.run_dir)
        logs_root = run_dir / LOGS_DIR
        if (logs_root / "manifest.json").exists():
            raise ConflictError(
                f"{run_dir} already holds Kilroy run {spec.run_id}: resume it or use a new run id"
            )
        repo = prepare_workspace(spec.workspace) if workspace is None else workspace.result()
        if logs_root.is_relative_to(repo):
            raise WorkspaceError(
                f"the run directory {run_dir} is inside the workspace {repo}; "
                "keep run directories outside the repository"
            )
        executable = self._agent_executable(spec)
        llm = None
        if spec.agent is not None:
            # The agent choice is a product's resource model: loaded only for runs that have one.
            from factoryos.kilroy.agents import llm_config

            llm = llm_config(spec.agent)
        config = write_run_config(
            run_dir,
            workspace=repo,
            agent_profile="test_shim" if spec.agent_profile == "test_shim" else "real",
            agent_executable=executable,
            stage_timeout_ms=None if spec.stage_timeout is None else int(spec.stage_timeout * 1000),
            branch_prefix=spec.branch_prefix,
            cxdb=(spec.cxdb.http_base_url, spec.cxdb.binary_addr) if spec.cxdb else None,
            llm=llm,
        )
        self._write_launch(run_dir, spec, graph, repo, executable)
        argv = [str(self.binary.path), "attractor", "run", "--graph", str(graph)]
        argv += ["--config", str(config), "--run-id", spec.run_id, "--logs-root", str(logs_root)]
        argv += (
            ["--skip-cli-headless-warning"]
            if spec.cxdb
            else ["--no-cxdb", "--skip-cli-headless-warning"]
        )
        if spec.agent_profile == "test_shim":
            argv.append("--allow-test-shim")
        extra = dict(spec.extra_env)
        if spec.cxdb is not None and spec.cxdb.ui_url:
            extra["KILROY_CXDB_UI_URL"] = spec.cxdb.ui_url
        env = self._env(logs_root, spec.inputs, extra)
        if detach:
            if self.sandbox is not None:
                raise InvalidInputError("a sandboxed Kilroy run cannot be detached")
            return self._start_detached([*argv, "--detach"], run_dir, logs_root, env)
        return self._spawn(argv, run_dir, logs_root, env, progress_after=0)

    def resume(
        self,
        logs_root: Path,
        *,
        run_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> KilroyProcess:
        """Continue a stopped or failed run from its last checkpoint (``attractor resume``).

        Completed nodes are not run again; the node that was interrupted is.
        """
        from factoryos.kilroy.logsroot import PROGRESS_FILE, LogsRoot
        from factoryos.kilroy.stopping import is_run_leader

        logs_root = logs_root.expanduser().resolve()
        run_dir = (run_dir or logs_root.parent).expanduser().resolve()
        root = LogsRoot(logs_root)
        manifest, checkpoint = root.manifest(), root.checkpoint()
        if manifest is None or checkpoint is None:
            raise NotFoundError(
                f"{logs_root} has no Kilroy manifest.json and checkpoint.json: nothing to resume"
            )
        pid = root.run_pid()
        if pid is not None and is_run_leader(pid, logs_root):
            raise ConflictError(f"run in {logs_root} is still running (pid {pid}); stop it first")
        final = root.final()
        if final is not None and final.get("status") == "success":
            raise ConflictError(f"run in {logs_root} already succeeded; nothing to resume")
        if not checkpoint.get("git_commit_sha"):
            raise EngineError(
                f"{logs_root}/checkpoint.json has no git commit: Kilroy cannot resume"
            )
        if not (logs_root / "modeldb" / "openrouter_models.json").is_file():
            raise EngineError(
                f"{logs_root} has no model catalog snapshot (the run was started without a "
                "pinned modeldb): Kilroy cannot resume it"
            )
        check_clean(Path(str(manifest.get("repo_path", ""))))
        _set_aside_final(logs_root)
        after = _trim_partial_line(logs_root / PROGRESS_FILE)
        launch = _read_launch(run_dir)
        env = self._env(logs_root, launch.get("inputs") or {}, extra_env or {})
        shim_bin = _test_shim_for_resume(logs_root, run_dir)
        if shim_bin is not None:
            env["PATH"] = os.pathsep.join(filter(None, [str(shim_bin), env.get("PATH")]))
        argv = [str(self.binary.path), "attractor", "resume", "--logs-root", str(logs_root)]
        return self._spawn(argv, run_dir, logs_root, env, progress_after=after)

    # -- observe and stop -------------------------------------------------------------------

    def status(self, logs_root: Path) -> RunSnapshot:
        """Where the run stands (``attractor status --json``, else the files)."""
        logs_root = logs_root.expanduser().resolve()
        if not logs_root.is_dir():
            raise NotFoundError(f"no Kilroy logs_root at {logs_root}")
        from factoryos.kilroy.status import snapshot_from_files, snapshot_from_kilroy

        args = ["attractor", "status", "--logs-root", str(logs_root), "--json"]
        proc = run_quick(self.binary.path, args, self.settings, self._base_env)
        if proc.returncode == 0:
            try:
                doc = json.loads(proc.stdout)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                return snapshot_from_kilroy(doc, logs_root)
        return snapshot_from_files(logs_root)

    def stop(self, logs_root: Path, grace_seconds: float = 5.0) -> StopResult:
        """Stop the run and every process it started; a no-op for a run that is not running."""
        from factoryos.kilroy.stopping import stop_run

        logs_root = logs_root.expanduser().resolve()
        env = self._env(None)
        result = stop_run(self.binary.path, logs_root, env, grace_seconds)
        child = self._children.get(logs_root)
        if child is not None:
            child.poll()  # reap our own child so it does not linger as a zombie
        return result

    # -- helpers ----------------------------------------------------------------------------

    def _env(
        self,
        logs_root: Path | None,
        inputs: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        return kilroy_env(
            self._base_env,
            state_dir=state_dir(self.settings),
            logs_root=logs_root,
            inputs=inputs,
            extra=extra,
            tools_dir=self.settings.tools_dir,
        )

    def _prepare_run_dir(self, run_dir: Path) -> Path:
        run_dir = run_dir.expanduser().resolve()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create run directory {run_dir}: {exc.strerror}") from exc
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise WorkspaceError(f"run directory {run_dir} is not writable")
        return run_dir

    def _agent_executable(self, spec: RunSpec) -> Path | None:
        if spec.agent_profile != "test_shim" or spec.agent_executable is None:
            return None
        exe = spec.agent_executable.expanduser().resolve()
        if not exe.is_file() or not os.access(exe, os.X_OK):
            raise InvalidInputError(f"agent executable {exe} is not an executable file")
        return exe

    def _write_launch(
        self, run_dir: Path, spec: RunSpec, graph: Path, workspace: Path, agent: Path | None
    ) -> None:
        launch = {
            "run_id": spec.run_id,
            "graph": str(graph),
            "workspace": str(workspace),
            "inputs": dict(spec.inputs),
            "agent_profile": spec.agent_profile,
            "agent_executable": str(agent) if agent else None,
            "kilroy": str(self.binary.path),
            "kilroy_version": self.binary.version,
        }
        (run_dir / LAUNCH_FILE).write_text(json.dumps(launch, indent=2) + "\n")

    def _spawn(
        self,
        argv: list[str],
        run_dir: Path,
        logs_root: Path,
        env: Mapping[str, str],
        *,
        progress_after: int,
    ) -> KilroyProcess:
        logs_root.mkdir(parents=True, exist_ok=True)
        stdout, stderr = run_dir / STDOUT_FILE, run_dir / STDERR_FILE
        # An attached Kilroy ends with whoever started it (a runner killed with SIGKILL):
        # nobody else would follow its progress, and a retry resumes from its checkpoint.
        # A standby sweeper told the run before the spawn sends it that SIGTERM when the
        # starter dies (no parent-death signal, so no ``preexec_fn``: a vfork, not a fork
        # of the whole starter); otherwise the parent-death signal does. In a sandbox the
        # signal reaches bwrap, whose --die-with-parent ends Kilroy, pid 1 of the
        # sandbox's pid namespace, and with it every process of the sandbox.
        marker = env.get(MARKER_ENV)
        tagged = f"{MARKER_ENV}={marker}"
        standby = self._told_standby(tagged, stderr) if marker and self.sandbox is None else None
        if self.sandbox is None:
            try:
                popen = spawn(
                    argv, cwd=run_dir, env=env, stdout_path=stdout, stderr_path=stderr,
                    end_with_parent=standby is None, nice=self.settings.build_nice,
                )  # fmt: skip
            except BaseException:
                if standby is not None:
                    standby.close()  # no Kilroy: it sweeps what carries the marker, nothing
                raise
            pid = popen.pid
        else:
            # Inside, Kilroy is pid 1 and writes that to run.pid: a stand-in file there
            # keeps the host pid we write here for everyone outside.
            from dataclasses import replace

            stand_in = (logs_root / RUN_PID_FILE, run_dir / SANDBOX_DIR / RUN_PID_FILE)
            sandbox = replace(self.sandbox, private_files=(*self.sandbox.private_files, stand_in))
            popen, pid = sandbox.spawn(
                argv, cwd=run_dir, env=env, stdout_path=stdout, stderr_path=stderr,
                end_with_parent=True, nice=self.settings.build_nice,
            )  # fmt: skip
        # The build yields the CPU to the factory's own processes (the runner following
        # it, the dashboard): its session's scheduling group, once Kilroy leads it.
        if self.settings.build_nice:
            SessionChange(pid, self.settings.build_nice).start()
        # For a run, Kilroy writes the same pid itself once bootstrap is done; writing
        # it now lets `stop` find a run still in bootstrap. For a resume, Kilroy v0.1.0
        # never rewrites run.pid, and `status`/`stop` would see the old, dead pid.
        (logs_root / RUN_PID_FILE).write_text(str(pid))
        # Outside a sandbox a sweeper ends what Kilroy's cancel leaves running. Inside one
        # the kernel does: Kilroy is pid 1 of the sandbox's pid namespace, and when it
        # exits every process left in it is killed (and a sweeper is a Python start, 30 to
        # 50 ms of CPU, for each of 200 runs starting at once).
        sweeper = None
        if marker and self.sandbox is None:
            if standby is not None and standby.started(pid):
                sweeper = standby
            else:  # none, or it is gone: one started beside Kilroy
                sweeper = Sweeper.start(
                    tagged, pid, CANCEL_GRACE_SECONDS, log=stderr, ends_kilroy=standby is not None
                )
        process = KilroyProcess(
            pid=pid,
            logs_root=logs_root,
            run_dir=run_dir,
            command=argv,
            stdout_path=stdout,
            stderr_path=stderr,
            progress_after=progress_after,
            popen=popen,
            sweeper=sweeper,
        )
        self._children[logs_root] = process
        return process

    def _told_standby(self, marker: str, log: Path) -> Sweeper | None:
        """The standby sweeper given to this Kilroy (its first run only), told the run and
        that it ends Kilroy when the starter dies; None when there is none or it is gone."""
        standby, self._standby = self._standby, None
        if standby is not None and standby.tell(
            marker, CANCEL_GRACE_SECONDS, log=log, ends_kilroy=True
        ):
            return standby
        return None

    def _start_detached(
        self, argv: list[str], run_dir: Path, logs_root: Path, env: Mapping[str, str]
    ) -> KilroyProcess:
        stdout, stderr = run_dir / STDOUT_FILE, run_dir / STDERR_FILE
        parent = spawn(argv, cwd=run_dir, env=env, stdout_path=stdout, stderr_path=stderr)
        try:
            code = parent.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            parent.kill()
            raise EngineError("kilroy --detach did not return within 60s") from exc
        from factoryos.kilroy.logsroot import LogsRoot
        from factoryos.kilroy.outcome import stderr_tail

        pid = LogsRoot(logs_root).run_pid()
        if code != 0 or pid is None:
            raise EngineError(f"kilroy --detach failed (exit {code}): {stderr_tail(stderr)}")
        return KilroyProcess(
            pid=pid,
            logs_root=logs_root,
            run_dir=run_dir,
            command=argv,
            stdout_path=logs_root / "run.out",
            stderr_path=logs_root / "run.out",
        )


def _set_aside_final(logs_root: Path) -> None:
    """Move a previous final.json away: Kilroy v0.1.0 leaves it in place during a resume,
    where ``status`` would report the old outcome and ``stop`` would refuse to act."""
    final = logs_root / "final.json"
    if not final.exists():
        return
    n = 1
    while (logs_root / f"final.before-resume-{n}.json").exists():
        n += 1
    final.rename(logs_root / f"final.before-resume-{n}.json")


def _trim_partial_line(progress: Path) -> int:
    """Drop a torn last line (a killed writer) so the resume's first event starts a line;
    return the number of complete lines."""
    try:
        data = progress.read_bytes()
    except FileNotFoundError:
        return 0
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with progress.open("r+b") as fh:
            fh.truncate(end)
    return data[:end].count(b"\n")


#: The executable Kilroy runs for each CLI provider under the ``real`` profile.
_PROVIDER_CLI = {"openai": "codex", "anthropic": "claude", "google": "gemini"}


def _test_shim_for_resume(logs_root: Path, run_dir: Path) -> Path | None:
    """Keep a ``test_shim`` run's stand-in agent working after a resume.

    Kilroy v0.1.0's ``attractor resume`` has no ``--allow-test-shim``, so a resumed
    ``test_shim`` run fails at its next agent node ("llm.cli_profile=test_shim
    requires --allow-test-shim"). We rewrite the config snapshot Kilroy resumes
    from to the ``real`` profile without ``executable`` (the original is kept as
    ``run_config.test_shim.json``) and return a folder of links named after the
    real CLIs (``codex`` ...) pointing at the stand-ins, for the front of ``PATH``.
    """
    config_path = logs_root / "run_config.json"
    original_path = logs_root / "run_config.test_shim.json"
    source = original_path if original_path.exists() else config_path
    try:
        config = json.loads(source.read_text())
    except (OSError, ValueError):
        return None
    llm = config.get("llm") if isinstance(config, dict) else None
    if not isinstance(llm, dict) or llm.get("cli_profile") != "test_shim":
        return None
    if source == config_path:
        original_path.write_bytes(config_path.read_bytes())
    shim_bin = run_dir / "resume-agents"
    shim_bin.mkdir(exist_ok=True)
    for provider, settings in (llm.get("providers") or {}).items():
        executable = settings.pop("executable", None) if isinstance(settings, dict) else None
        name = _PROVIDER_CLI.get(provider)
        if executable and name:
            link = shim_bin / name
            link.unlink(missing_ok=True)
            link.symlink_to(executable)
    llm["cli_profile"] = "real"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return shim_bin


def _read_launch(run_dir: Path) -> dict[str, Any]:
    try:
        value = json.loads((run_dir / LAUNCH_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
