"""A dashboard over a hand-made factory: a LocalStore, a run directory, a stage commit.

``make_site`` builds what the dashboard reads without running anything: a
product, a run whose status has two stages, its event log, a candidate repo
with the commits Kilroy makes after each node, and stage files.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from starlette.testclient import TestClient

from factoryos.events import EventLog, EventType, run_source
from factoryos.models import (
    CandidatePhase,
    CandidateStatus,
    Product,
    Run,
    RunPhase,
    StageState,
    StageStatus,
    parse_as,
)
from factoryos.store import LocalStore
from factoryos.ui import Dashboard, create_app
from factoryos.ui.auth import CSRF_HEADER, Credentials
from factoryos.workloads import RunDirectory

TOKEN = "test-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Site:
    store: LocalStore
    runs_dir: Path
    client: TestClient
    admitted: list[Product | Run] = field(default_factory=list)

    @property
    def credentials(self) -> Credentials:
        return Credentials(TOKEN)

    def sign_in(self) -> None:
        response = self.client.post("/signin", data={"token": TOKEN}, follow_redirects=False)
        assert response.status_code == 303

    @property
    def csrf(self) -> dict[str, str]:
        return {CSRF_HEADER: self.credentials.csrf}

    def run_dir(self, name: str = "r1") -> RunDirectory:
        return RunDirectory.of(self.runs_dir, "default", name)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def make_site(tmp: Path) -> Site:
    store = LocalStore(tmp / "home" / "factoryos.db")
    runs_dir = tmp / "home" / "runs"
    repo = tmp / "product"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pipeline.dot").write_text(
        "digraph p { start [shape=Mdiamond]; implement; exit [shape=Msquare]; "
        "start -> implement -> exit }\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    store.create(
        parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": str(repo)}}})
    )
    run = store.create(
        parse_as(
            Run, {"metadata": {"name": "r1"}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
        )
    )
    run.status.phase = RunPhase.BUILDING
    run.status.stages = [
        StageStatus(candidate=0, name="start", status=StageState.SUCCEEDED),
        StageStatus(candidate=0, name="implement", status=StageState.RUNNING),
    ]
    run.status.candidates = [
        CandidateStatus(index=0, branch="factory/r1/c0", phase=CandidatePhase.BUILDING)
    ]
    store.update_status(run)

    layout = RunDirectory.of(runs_dir, "default", "r1")
    log = EventLog(layout.events, run_source("p", "r1"))
    log.append(EventType.RUN_STARTED, {"candidate": 0})
    log.append(EventType.STAGE_STARTED, {"candidate": 0, "attempt": 1}, subject="implement")
    clone = layout.repo(0)
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "factory/r1/c0")
    git(clone, "commit", "-q", "--allow-empty", "-m", "attractor(c0): start (success)")
    (clone / "feature.txt").write_text("new line\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "attractor(c0): implement (success)")
    stage = layout.logs_root(0) / "implement"
    stage.mkdir(parents=True)
    (stage / "stdout.log").write_text("implemented\n")
    (stage / "blob.bin").write_bytes(b"\x00\x01\x02")

    admitted: list[Product | Run] = []
    app = create_app(
        Dashboard(
            store=store,
            runs_dir=runs_dir,
            credentials=Credentials(TOKEN),
            admit=admitted.append,
            stream_interval=0.01,
            heartbeat_seconds=0.2,
        )
    )
    return Site(store, runs_dir, TestClient(app, base_url="http://testserver"), admitted)


def keyed_client(site: Site, key: str | None) -> TestClient:
    """A second dashboard over ``site``'s factory with runners' ingest ``key`` (cluster mode)."""
    return TestClient(
        create_app(
            Dashboard(
                store=site.store,
                runs_dir=site.runs_dir,
                credentials=Credentials(TOKEN),
                admit=lambda _: None,
                ingest_key=key,
            )
        )
    )
