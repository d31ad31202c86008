"""Helpers for the embedded-factory tests: ``sf up`` as a process, ``sf`` commands, repos.

The ``factory`` fixture (conftest.py) gives each test its own ``FACTORYOS_HOME``; ``factory.up()``
starts the control plane (stopped at teardown; ``dashboard=True`` serves the
dashboard on a free port, ``factory.dashboard`` says where), ``factory.sf(...)``
runs a command like a user would, ``factory.repo(...)`` makes a product
repository with pipelines committed on ``main``.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kilroy_support import git, pipeline

from factoryos.controlplane import control_plane_pid
from factoryos.events import Event, read_events
from factoryos.events.log import iter_lines
from factoryos.kilroy.procs import proc_stat
from factoryos.kilroy.sweeper import marked
from factoryos.models import Run
from factoryos.store import LocalStore
from factoryos.workloads import RunDirectory

SF = [sys.executable, "-m", "factoryos.cli.app"]
DASHBOARD_LINE = re.compile(r"dashboard at (http://\S+/)")


class Factory:
    """One embedded factory: a home folder, its control plane, its store."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.root = root
        self.home = Path(env["FACTORYOS_HOME"])
        self.plane: subprocess.Popen[bytes] | None = None
        self.dashboard = ""
        self._store: LocalStore | None = None

    def sf(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*SF, *args], env=self.env, capture_output=True, text=True, input=stdin, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(f"sf {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def up(self, *, dashboard: bool = False, port: int = 0) -> subprocess.Popen[bytes]:
        log_path = self.root / "sf-up.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        log = log_path.open("ab")
        args = ["up", "--port", str(port)] if dashboard else ["up", "--no-dashboard"]
        self.plane = subprocess.Popen([*SF, *args], env=self.env, stdout=log, stderr=log)
        wait_for(lambda: control_plane_pid(self.home) == self.plane.pid, what="sf up to start")  # type: ignore[union-attr]
        if dashboard:

            def new_text() -> str:
                return log_path.read_bytes()[start:].decode(errors="replace")

            wait_for(
                lambda: DASHBOARD_LINE.search(new_text()) is not None,
                what="the dashboard to listen",
                detail=lambda: new_text()[-2000:],
            )
            self.dashboard = DASHBOARD_LINE.findall(new_text())[-1]
        return self.plane

    @property
    def token(self) -> str:
        """The dashboard token ``sf up`` generated."""
        return (self.home / "dashboard-token").read_text().strip()

    def down(self, sig: signal.Signals = signal.SIGINT) -> None:
        plane, self.plane = self.plane, None
        if plane is None:
            return
        plane.send_signal(sig)
        plane.wait(timeout=60)

    @property
    def store(self) -> LocalStore:
        if self._store is None:
            self._store = LocalStore(self.home / "factoryos.db")
        return self._store

    def run(self, name: str) -> Run:
        return self.store.get(Run, name)

    def wait_run(self, name: str, done: Callable[[Run], bool], timeout: float = 60.0) -> Run:
        found: list[Run] = []

        def check() -> bool:
            found[:] = [self.run(name)]
            return done(found[0])

        wait_for(check, timeout=timeout, what=f"run {name}", detail=lambda: _describe(found))
        return found[0]

    def run_dir(self, name: str) -> RunDirectory:
        return RunDirectory.of(self.home / "runs", "default", name)

    def events(self, name: str) -> list[Event]:
        return read_events(self.run_dir(name).events)

    def raw_events(self, name: str) -> list[dict[str, Any]]:
        """The run's events as written (for ``validate_events``)."""
        return list(iter_lines(self.run_dir(name).events))

    def repo(self, name: str, pipelines: dict[str, dict[str, str]]) -> Path:
        """A product repository with one linear tool pipeline per entry, committed on main."""
        path = self.root / "repos" / name
        path.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        for file, steps in pipelines.items():
            pipeline(path, file, steps)
        (path / "README.md").write_text(f"{name}\n")
        subprocess.run(["git", "-C", str(path), "add", "."], check=True)
        subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True, env=self.env)
        return path

    def close(self) -> None:
        self.down(signal.SIGINT)
        if self._store is not None:
            self._store.close()


def home_processes(home: Path) -> list[int]:
    """Live processes started for the factory in ``home``: every one whose environment names
    it (``sf up``, its helpers, runners, Kilroy, tool nodes inherit FACTORYOS_HOME)."""
    return sorted(marked(f"FACTORYOS_HOME={home}".encode()))


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    stats = (proc_stat(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit())
    return sorted(s.pid for s in stats if s and s.ppid == pid and s.state not in {"Z", "X"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _describe(found: list[Run]) -> str:
    if not found:
        return "not found"
    st = found[0].status
    return f"phase={st.phase} message={st.message!r}"


def wait_for(
    check: Callable[[], bool],
    *,
    timeout: float = 30.0,
    what: str = "condition",
    detail: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} {detail()}")


def marks_step(marks: Path, name: str, seconds: float = 0.0) -> str:
    """A tool command that sleeps, then records that step ``name`` completed."""
    sleep = f"sleep {seconds}; " if seconds else ""
    return f"{sleep}echo {name} >> {marks}"


ROOT = Path(__file__).resolve().parents[2]
QUALITY = ROOT / "examples" / "products" / "quality"
QUALITY_HOLDOUTS = ROOT / "examples" / "holdouts" / "quality"


def quality_product(
    factory: Factory, variants: dict[int, str], *, by_url: bool = False
) -> tuple[Path, Path]:
    """examples/products/quality with ``variants`` by candidate index, and its holdouts.

    ``by_url``: the Product names a bare clone by ``file://`` URL (what it returns).
    """
    repo = factory.root / "repos" / "quality"
    shutil.copytree(QUALITY, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "variants.json").write_text(json.dumps({str(k): v for k, v in variants.items()}))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-qm", "quality"], check=True, env=factory.env
    )
    holdouts = factory.root / "holdouts"  # outside the repo and the factory's home
    shutil.copytree(QUALITY_HOLDOUTS, holdouts)
    source = f"path: {repo}"
    if by_url:
        bare = factory.root / "repos" / "quality.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
        repo, source = bare, f"url: 'file://{bare}'"
    factory.sf("apply", "-f", "-", stdin=f"""
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata: {{name: quality}}
spec:
  repo: {{{source}}}
  candidates: 4
  concurrency: 1
  verifiers:
    typecheck: [{{name: compile, command: "python3 -m py_compile greet.py"}}]
    unit: [{{name: check, command: "python3 check.py"}}]
  holdouts: {{path: {holdouts}}}
  acceptance: {{target: 0.9, alpha: 0.05}}
""")  # fmt: skip
    return repo, holdouts
