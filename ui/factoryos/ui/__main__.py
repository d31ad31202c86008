"""``python -m factoryos.ui``: serve the dashboard in the foreground.

Locally (what ``sf up`` starts as its child) it reads ``$FACTORYOS_HOME``: the
LocalStore, the runs directory and the token file (made on first use). On a
cluster (``--context`` / FACTORYOS_CONTEXT, or ``--in-cluster`` in the
dashboard's Deployment) it reads Products and Runs from the API server, the
token from FACTORYOS_DASHBOARD_TOKEN (a Secret) and run files from
FACTORYOS_RUNS_DIR (a volume). With ``--announce`` it writes one JSON line
to stdout once it listens: ``{"url": ..., "token_file": ..., "token": <only
when it was just made>}``, which is how ``sf up`` learns the address. It exits
2 when it cannot start with what it was given (settings, the port, the
cluster), 1 on any other error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from factoryos.admission import admitter
from factoryos.errors import FactoryError, InvalidInputError
from factoryos.settings import Settings
from factoryos.store import LocalStore, ResourceStore
from factoryos.telemetry import Telemetry
from factoryos.tokens import TOKEN_FILE, load_or_create_token
from factoryos.ui.app import Dashboard, create_app
from factoryos.ui.auth import TOKEN_ENV, Credentials, CredentialSource, TokenFile
from factoryos.ui.server import bind, serve, url_of

STORE_FILE = "factoryos.db"
#: The key the operator and the dashboard share for runners' per-run event tokens.
INGEST_KEY_ENV = "FACTORYOS_INGEST_KEY"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factoryos.ui", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8400, help="port (0: any free port)")
    parser.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
    parser.add_argument("--announce", action="store_true", help="print where it listens as JSON")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        store, runs_dir, token, created = _sources(settings, in_cluster=args.in_cluster)
        local = not args.in_cluster and settings.kube_context is None
        credentials: CredentialSource = (
            TokenFile(settings.home, token) if local else Credentials(token)
        )
        app = create_app(
            Dashboard(
                store=store,
                runs_dir=runs_dir,
                credentials=credentials,
                admit=admitter(
                    settings,
                    store,
                    os.environ,
                    on_cluster=args.in_cluster or settings.kube_context is not None,
                ),
                cxdb_ui_url=os.environ.get("FACTORYOS_CXDB_UI_URL") or None,
                ingest_key=os.environ.get(INGEST_KEY_ENV) or None,
                telemetry=Telemetry.from_env("factoryos-dashboard", os.environ),
            )
        )
        sock = bind(args.host, args.port)
    except FactoryError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidInputError) else 1
    url = url_of(sock)
    if args.announce:
        announce = {"url": url, "token_file": str(settings.home / TOKEN_FILE)}
        if created:
            announce["token"] = token
        print(json.dumps(announce), flush=True)
    else:
        print(f"dashboard at {url}", file=sys.stderr, flush=True)
    serve(app, sock)
    return 0


def _sources(settings: Settings, *, in_cluster: bool) -> tuple[ResourceStore, Path, str, bool]:
    """The store, the runs directory and the token, locally or on a cluster."""
    if not in_cluster and settings.kube_context is None:
        token, created = load_or_create_token(settings.home)
        return LocalStore(settings.home / STORE_FILE), settings.runs_dir, token, created
    from kubernetes import config

    from factoryos.store.apiserver import KubeStore

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise InvalidInputError(f"{TOKEN_ENV} is not set (mount the dashboard Secret)")
    try:
        if in_cluster:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            api = None
        else:
            api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=settings.kubeconfig, context=settings.kube_context
            )
    except (config.ConfigException, OSError) as exc:
        raise InvalidInputError(f"cannot reach the cluster: {exc}") from None
    from kubernetes import client

    runs_dir = Path(os.environ.get("FACTORYOS_RUNS_DIR") or settings.runs_dir)
    return KubeStore(api or client.ApiClient()), runs_dir, token, False


if __name__ == "__main__":
    sys.exit(main())
