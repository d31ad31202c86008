"""What every dashboard route reads: the app's dependencies and its shared helpers."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import HTTPConnection

from factoryos.errors import FactoryError
from factoryos.models import Product, Run
from factoryos.rundata import RunFiles
from factoryos.store import ResourceStore
from factoryos.ui.auth import CredentialSource
from factoryos.ui.hub import EventHub, ResourceFeed
from factoryos.ui.throttle import SignInThrottle
from factoryos.workloads import RunDirectory

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


@dataclass
class AppState:
    """The dependencies of one dashboard app (built by ``create_app``)."""

    store: ResourceStore
    runs_dir: Path
    credentials: CredentialSource
    admit: Callable[[Product | Run], None]
    hub: EventHub
    feed: ResourceFeed
    cxdb_ui_url: str | None
    heartbeat_seconds: float
    ingest_key: str | None = None
    throttle: SignInThrottle = field(default_factory=SignInThrottle)

    def run_dir(self, run: Run) -> RunDirectory:
        return RunDirectory.of(self.runs_dir, run.metadata.namespace, run.metadata.name)

    def files(self, run: Run) -> RunFiles:
        return RunFiles(self.run_dir(run))

    def pipeline_source(self, run: Run, candidate: int) -> str | None:
        """The DOT the run executes: Kilroy's copy once started, else the product's."""
        copy = self.run_dir(run).logs_root(candidate) / "graph.dot"
        try:
            return copy.read_text(errors="replace")  # a stray byte must not break the page
        except OSError:
            pass
        try:
            product = self.store.get(Product, run.spec.product_ref.name, run.metadata.namespace)
        except FactoryError:  # the graph is optional; the page says it is missing
            return None
        if product.spec.repo.path is None:
            return None
        pipeline = run.spec.pipeline or product.spec.pipeline
        shown = subprocess.run(
            ["git", "-C", product.spec.repo.path, "show", f"{product.spec.branch}:{pipeline}"],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
        return shown.stdout if shown.returncode == 0 else None


def app_state(conn: HTTPConnection) -> AppState:
    state: AppState = conn.app.state.factory
    return state
