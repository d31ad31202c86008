"""One build workload: a candidate's Kilroy run (or resume), as a Job pod or a local process.

The launcher writes a ``WorkloadSpec`` (``factoryos.workloads``) and starts
``python -m factoryos.worker <spec.json>``, which hands a build spec to
``BuildWorkload``; ``BuildWorkload.run`` does the work:
it clones the product repository for the candidate (first attempt), or
resumes from the candidate's last checkpoint (later attempts, after a stop,
a lost process or a control-plane restart), appends the run's events, and
writes ``result.json`` last. The process exit status says the same as the
result, for launchers that only see exit codes (Kubernetes Jobs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from factoryos.errors import FactoryError, InvalidInputError, WorkspaceError
from factoryos.events import Event, EventLog, EventRecord, EventType, run_source
from factoryos.kilroy import CxdbEndpoint, Kilroy, LogsRoot
from factoryos.kilroy import RunSpec as KilroyRunSpec
from factoryos.kilroy.agent_home import cli_env, write_agent_home
from factoryos.kilroy.agents import agent_env, model_stylesheet
from factoryos.kilroy.graph_overrides import write_overridden_copy
from factoryos.kilroy.procs import pid_alive
from factoryos.runner.pipeline import PipelineRunner, RunReport
from factoryos.workloads import ProgressReporter, WorkloadResult, WorkloadSpec, WorkloadStatus

#: How a write refused by a full disk reads, in Go's and Python's words alike (lowercased).
OUT_OF_SPACE = "no space left on device"


def workload_status(report: RunReport) -> WorkloadStatus:
    """How a Kilroy invocation that ran ends as a workload."""
    if report.stopped:
        return WorkloadStatus.STOPPED
    if report.outcome.status == "success":
        return WorkloadStatus.SUCCEEDED
    if OUT_OF_SPACE in (report.outcome.failure_reason or "").lower():
        # Kilroy fails the run when it cannot write (a full disk): the machine's fault, not
        # the pipeline's, so it is retried from the checkpoint like a lost runner.
        return WorkloadStatus.ERROR
    return WorkloadStatus.FAILED


class BuildWorkload:
    """Runs one ``WorkloadSpec`` to its result; ``request_stop`` stops it gracefully."""

    def __init__(
        self,
        spec: WorkloadSpec,
        kilroy: Kilroy,
        env: dict[str, str],
        progress: ProgressReporter | None = None,
    ) -> None:
        self.spec = spec
        self._kilroy = kilroy
        self._env = env
        self._progress = progress
        self._log = EventLog(spec.layout.events, run_source(spec.product, spec.run))
        self._runner = PipelineRunner(
            kilroy,
            product=spec.product,
            grace_seconds=spec.grace_seconds,
            heartbeat_seconds=spec.heartbeat_seconds,
            on_event=_as_events(progress.on_event) if progress is not None else None,
            event_fields={
                "candidate": spec.candidate,
                "attempt": spec.attempt,
                "workload": spec.name,
            },
        )

    def request_stop(self) -> None:
        self._runner.request_stop()

    def run(self) -> WorkloadResult:
        """Run or resume the candidate, and return (not write) its result."""
        result = self._result()
        if self._progress is not None:
            self._progress.finish(result.model_dump(mode="json", exclude_none=True))
        return result

    def _result(self) -> WorkloadResult:
        try:
            report = self._run()
        except InvalidInputError as exc:
            return self._failed_early(WorkloadStatus.INVALID, str(exc))
        except FactoryError as exc:
            return self._failed_early(WorkloadStatus.ERROR, str(exc))
        outcome = report.outcome
        return WorkloadResult(
            status=workload_status(report),
            reason=outcome.failure_reason or None,
            failed_node=outcome.failed_node or None,
            run_branch=report.run_branch,
            finished_at=datetime.now(UTC),
        )

    def _run(self) -> RunReport:
        spec, layout = self.spec, self.spec.layout
        logs = LogsRoot(layout.logs_root(spec.candidate))
        if logs.checkpoint() is not None:
            self._end_orphan(logs)
            return self._runner.resume(
                layout.candidate(spec.candidate), spec.run_id, self._log, self._kilroy_env()
            )
        # No checkpoint: nothing to resume, so start over from a fresh clone.
        for stale in (layout.repo(spec.candidate), layout.logs_root(spec.candidate)):
            shutil.rmtree(stale, ignore_errors=True)
        repo = self._clone(layout.repo(spec.candidate))
        pipeline = repo / spec.pipeline
        if not pipeline.is_file():
            raise InvalidInputError(
                f"pipeline {spec.pipeline} not found in branch {spec.branch} of the repository"
            )
        kilroy_spec = KilroyRunSpec(
            graph=self._candidate_pipeline(repo, pipeline),
            workspace=repo,
            run_id=spec.run_id,
            run_dir=layout.candidate(spec.candidate),
            inputs={"goal": spec.goal, "product": spec.product, "run": spec.run},
            agent_profile=spec.agent_profile,
            agent_executable=spec.agent_executable,
            stage_timeout=spec.stage_timeout_seconds,
            branch_prefix=spec.branch_prefix,
            extra_env=self._kilroy_env(),
            cxdb=CxdbEndpoint.from_env(self._env),
            agent=spec.agent if spec.agent_profile == "real" else None,
        )
        return self._runner.run(kilroy_spec, self._log)

    def _candidate_pipeline(self, repo: Path, pipeline: Path) -> Path:
        """The candidate's copy of the pipeline, saying the Run's goal (with the earlier
        iterations' feedback) whatever the file's own ``graph[goal]`` is (Kilroy fills
        ``$goal`` in prompts from the file only), and the product's agent choice as the
        model stylesheet. Ignored by git, so never committed."""
        attributes = {"goal": self.spec.goal}
        if self.spec.agent is not None:
            attributes["model_stylesheet"] = model_stylesheet(self.spec.agent)
        copy = write_overridden_copy(pipeline, attributes)
        exclude = repo / ".git" / "info" / "exclude"
        try:
            exclude.parent.mkdir(parents=True, exist_ok=True)
            with exclude.open("a", encoding="utf-8") as out:
                out.write(f"/{copy.relative_to(repo).as_posix()}\n")
        except OSError as exc:
            raise WorkspaceError(f"cannot write {exclude}: {exc.strerror}") from exc
        return copy

    def _kilroy_env(self) -> dict[str, str]:
        """The product's passEnv variables and the agent's key for Kilroy; for an agent the
        product chose, or a sandboxed candidate, also a home of the candidate's own
        (``agent_home``: the CLIs' settings, the user's git identity) with the variables
        those CLIs need; sandboxed, Kilroy's state goes there too (FACTORYOS_HOME is out
        of sight) and TMPDIR is the sandbox's private /tmp."""
        spec = self.spec
        env = {k: self._env[k] for k in spec.pass_env if k in self._env}
        real = spec.agent if spec.agent is not None and spec.agent_profile == "real" else None
        keys: dict[str, str] = {}
        if real is not None:
            credential = spec.credential.env if spec.credential is not None else None
            keys = agent_env(real, self._env, credential)
            env |= keys
        configured = real is not None and real.configured
        if not configured and not spec.sandbox:
            return env
        user_home = self._env.get("HOME")
        home = write_agent_home(
            spec.layout.candidate(spec.candidate) / "agent-home",
            real if configured else None,
            Path(user_home) if user_home else None,
            sandboxed=spec.sandbox,
        )
        env |= {"HOME": str(home), "TMPDIR": str(home / "tmp")}
        if real is not None and configured:
            env |= cli_env(real, keys, root=os.geteuid() == 0)
        if spec.sandbox:  # its /tmp is its own (and short: a socket's path must fit 107 bytes)
            env |= {"XDG_STATE_HOME": str(home / ".local" / "state"), "TMPDIR": "/tmp"}  # noqa: S108
        return env

    def _end_orphan(self, logs: LogsRoot) -> None:
        """Stop a Kilroy left running by a runner that died, before resuming its run."""
        pid = logs.run_pid()
        if pid is not None and pid_alive(pid) and logs.final() is None:
            self._kilroy.stop(logs.path, grace_seconds=self.spec.grace_seconds)

    def _clone(self, dest: Path) -> Path:
        spec = self.spec
        source = str(spec.repo_path) if spec.repo_path is not None else spec.repo_url
        if source is None:
            raise InvalidInputError("the workload names no repository (repo path or url)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                [
                    "git",
                    "clone",
                    "--quiet",
                    "--no-tags",
                    "--branch",
                    spec.branch,
                    source,
                    str(dest),
                ],
                capture_output=True,
                text=True,
                check=False,
                env={**self._env, "GIT_TERMINAL_PROMPT": "0"},
            )
        except FileNotFoundError as exc:
            raise WorkspaceError("git is not installed") from exc
        if done.returncode != 0:
            detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            raise InvalidInputError(f"cannot clone {source} (branch {spec.branch}): {detail}")
        return dest

    def _failed_early(self, status: WorkloadStatus, reason: str) -> WorkloadResult:
        """A workload that ended before Kilroy ran still leaves an event saying why."""
        self._log.append(
            EventType.RUN_FINISHED,
            {
                "status": "fail",
                "reason": reason,
                "candidate": self.spec.candidate,
                "attempt": self.spec.attempt,
                "workload": self.spec.name,
            },
        )
        return WorkloadResult(status=status, reason=reason, finished_at=datetime.now(UTC))


def _as_events(on_event: Callable[[Event], None]) -> Callable[[EventRecord], None]:
    """The runner hands on plain records; the progress report folds the envelope's model."""
    return lambda record: on_event(Event(**record.fields()))
