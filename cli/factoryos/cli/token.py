"""``sf token rotate``: replace the dashboard token, which ends every dashboard session.

The local factory's token lives in ``$FACTORYOS_HOME/dashboard-token``
(``factoryos.tokens``). The dashboard re-reads it on each request, so the new
token works at once and the old one, and every browser session made with it
(sessions are derived from the token), stop working at once; no restart of
``sf up`` is needed. The new token is printed once, on stdout. On a cluster the
token is the dashboard Secret's: the command says how to replace it there.
"""

from __future__ import annotations

from typing import Any

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit
from factoryos.errors import InvalidInputError
from factoryos.settings import Settings
from factoryos.tokens import rotate_token, token_path

app = typer.Typer(help="The dashboard's access token.", no_args_is_help=True)

#: How to rotate on a cluster (the dashboard reads the token from this Secret).
CLUSTER_HINT = (
    "on a cluster the dashboard token is the Secret factoryos-dashboard's key 'token': "
    "replace it (kubectl -n factoryos-system create secret generic factoryos-dashboard "
    "--from-literal=token=... --dry-run=client -o yaml | kubectl apply -f -, keeping "
    "ingest-key) and restart the dashboard (kubectl rollout restart deploy/factoryos-dashboard)"
)


@app.command()
def rotate(output: OutputOption = OutputFormat.TEXT) -> None:
    """Make a new dashboard token: the old one and every signed-in session stop working now."""
    settings = Settings.from_env()
    if settings.kube_context is not None:
        raise InvalidInputError(CLUSTER_HINT)
    token = rotate_token(settings.home)
    data = {"tokenFile": str(token_path(settings.home)), "token": token}
    emit(data, output, _text)


def _text(data: dict[str, Any]) -> str:
    return (
        f"new dashboard token (shown once; kept in {data['tokenFile']}):\n  {data['token']}\n"
        "the old token and every dashboard session made with it no longer work"
    )
