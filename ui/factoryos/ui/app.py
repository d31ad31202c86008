"""``create_app``: the dashboard's FastAPI app, built from its dependencies.

Nothing here is global: the store, the runs directory, the credentials and
admission come in a ``Dashboard``, so ``sf up`` (local store, local runs
directory), the cluster Deployment (``KubeStore``) and the tests each build
their own app.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles

from factoryos.models import Product, Run
from factoryos.store import ResourceStore
from factoryos.telemetry import Telemetry
from factoryos.ui import api, pages, problems
from factoryos.ui.auth import CredentialSource
from factoryos.ui.hub import EventHub, ResourceFeed
from factoryos.ui.middleware import AuthMiddleware, SecurityHeadersMiddleware
from factoryos.ui.state import STATIC_DIR, AppState
from factoryos.ui.throttle import SignInThrottle
from factoryos.version import __version__

#: Admission for what the dashboard creates (``factoryos.admission.admitter``).
Admit = Callable[[Product | Run], None]


@dataclass
class Dashboard:
    """What the dashboard needs from the factory it shows."""

    store: ResourceStore
    runs_dir: Path
    #: The token and what derives from it: a ``TokenFile`` locally (``sf token rotate``
    #: takes effect at once), a fixed ``Credentials`` from the cluster's Secret.
    credentials: CredentialSource
    admit: Admit
    #: CXDB's UI, when runs log to CXDB (links per run).
    cxdb_ui_url: str | None = None
    #: How often a followed run's event log is checked for new lines.
    stream_interval: float = 0.02
    #: Seconds between heartbeats on an idle stream.
    heartbeat_seconds: float = 15.0
    #: The key runners' per-run event tokens are made from (cluster mode); None: no ingest.
    ingest_key: str | None = None
    #: Metrics (the event stream's lag); off unless the environment asks.
    telemetry: Telemetry | None = None


def create_app(dashboard: Dashboard) -> FastAPI:
    """The dashboard app: pages, ``/api`` (OpenAPI at ``/api/docs``) and live streams."""
    hub = EventHub(
        dashboard.runs_dir, interval=dashboard.stream_interval, telemetry=dashboard.telemetry
    )
    feed = ResourceFeed(dashboard.store)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        feed.close()
        hub.close()

    app = FastAPI(
        title="Factory OS",
        version=__version__,
        summary="Products, runs, stages and their live events.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    throttle = SignInThrottle()
    app.state.factory = AppState(
        store=dashboard.store,
        runs_dir=dashboard.runs_dir,
        credentials=dashboard.credentials,
        admit=dashboard.admit,
        hub=hub,
        feed=feed,
        cxdb_ui_url=dashboard.cxdb_ui_url,
        heartbeat_seconds=dashboard.heartbeat_seconds,
        ingest_key=dashboard.ingest_key,
        throttle=throttle,
    )
    app.add_middleware(AuthMiddleware, credentials=dashboard.credentials, throttle=throttle)
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(api.router)
    app.include_router(api.git_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    problems.install(app, pages.error_page)
    app.add_api_route("/healthz", _healthz, include_in_schema=False)
    if dashboard.telemetry is not None:
        dashboard.telemetry.instrument_app(app)
    return app


def _healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")
