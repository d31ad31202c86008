"""``ScratchFactory``: ``sf selftest``'s target on this machine.

A control plane (``sf up --no-dashboard``) in a scratch home, with the
example products copied out of the checkout into git repositories there.
What is left of a run is its processes (found by their logs_root marker);
its events and branches are read from the run directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from factoryos.controlplane import control_plane_pid
from factoryos.errors import FactoryError
from factoryos.events.log import iter_lines
from factoryos.git import git
from factoryos.kilroy.procs import run_processes
from factoryos.models import Product, parse_as
from factoryos.selftest.target import SMOKE_PRODUCT, CheckFailedError, SelftestTarget
from factoryos.store import LocalStore
from factoryos.workloads import RunDirectory

#: Where the examples are when running from a checkout.
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Factory OS selftest",
    "GIT_AUTHOR_EMAIL": "selftest@factoryos.invalid",
    "GIT_COMMITTER_NAME": "Factory OS selftest",
    "GIT_COMMITTER_EMAIL": "selftest@factoryos.invalid",
}


class ScratchFactory(SelftestTarget):
    """A control plane in its own home; products from the checkout's examples."""

    def __init__(self, home: Path, env: dict[str, str], examples: Path = EXAMPLES) -> None:
        home.mkdir(parents=True, exist_ok=True)
        super().__init__(LocalStore(home / "factoryos.db"))
        self.home = home
        self.env = {**env, **IDENTITY, "FACTORYOS_HOME": str(home)}
        self.examples = examples
        self.plane: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.home / "sf-up.log").open("ab")
        self.plane = subprocess.Popen(
            [sys.executable, "-m", "factoryos.cli.app", "up", "--no-dashboard", "--grace", "3"],
            env=self.env, stdout=log, stderr=log,
        )  # fmt: skip
        self.wait(lambda: control_plane_pid(self.home) == self.plane.pid, 30, "sf up")  # type: ignore[union-attr]

    def close(self) -> None:
        if self.plane is not None and self.plane.poll() is None:
            self.plane.terminate()
            self.plane.wait(timeout=60)
        assert isinstance(self.store, LocalStore)
        self.store.close()

    def alive(self) -> str | None:
        if self.plane is not None and self.plane.poll() is not None:
            return "the control plane exited"
        return None

    def product(self, name: str, example: str, **spec: Any) -> None:
        source = self.examples / "products" / example
        if not source.is_dir():
            raise CheckFailedError(
                f"the {example} product is not here ({source}): run from a checkout"
            )
        repo = self.home / "repos" / name
        shutil.copytree(
            source, repo, ignore=shutil.ignore_patterns("__pycache__", "deploy-plan.json")
        )
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        committed = subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", "selftest"],
            env={**os.environ, **IDENTITY}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if committed.returncode != 0:
            raise FactoryError(f"cannot commit {repo}: {committed.stderr.strip()}")
        if example == SMOKE_PRODUCT:
            agent = self.examples / "pipelines" / "agents" / "scripted-agent"
            spec.setdefault("engine", {"agentProfile": "test_shim", "agentExecutable": str(agent)})
        body = {"metadata": {"name": name}, "spec": {"repo": {"path": str(repo)}, **spec}}
        self.store.create(parse_as(Product, body))

    def layout(self, run: str) -> RunDirectory:
        return RunDirectory.of(self.home / "runs", self.namespace, run)

    def leftovers(self, run: str) -> list[str]:
        return [f"pid {pid}" for pid in run_processes(self.layout(run).logs_root(0))]

    def raw_events(self, run: str) -> list[dict[str, Any]]:
        return list(iter_lines(self.layout(run).events))

    def branch_file(self, run: str, path: str, candidate: int = 0) -> str | None:
        branch = f"factory/{run}/c{candidate}"
        shown = git(self.layout(run).repo(candidate), "show", f"{branch}:{path}")
        if shown.returncode != 0:
            raise CheckFailedError(f"no {path} on {branch}: {shown.stderr.strip()}")
        return shown.stdout
