"""``python -m factoryos.ui.git_service``: a minimal git remote that requires a token.

Serves every bare repository ``ROOT/<name>.git`` over git's smart HTTP protocol
at ``http://HOST:PORT/<name>.git`` (clone, fetch and push), to clients that send
the token in the file ``--token-file`` either as a bearer token or as the
password of HTTP Basic (any user name); everyone else gets 401. ``--init NAME``
creates ``ROOT/NAME.git`` (bare, default branch main) at start. Both of these work:

  git -c http.extraHeader="Authorization: Bearer $TOKEN" clone http://HOST:PORT/NAME.git
  git clone http://x-token:$TOKEN@HOST:PORT/NAME.git

It is the remote a product's repository can live in when a cluster has no other
(the e2e tests run it in a pod), and the dashboard's per-run repositories
(``/git/runs/...``) use the same bridge to ``git http-backend``
(``factoryos.ui.git_http``). Requests are logged to stderr, never the token.
Exits 2 when it cannot start with what it was given (the token file, the root,
the address).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from factoryos.ui.git_http import (
    GitHttpError,
    basic_or_bearer,
    init_bare,
    refusal,
    repository_path,
    serve,
)

log = logging.getLogger("factoryos.ui.git_service")

#: How a client that sent no (or a wrong) token is told to authenticate: git answers
#: the Basic challenge with the user and password of the URL or its credential helper.
CHALLENGES = ('Basic realm="factoryos git", charset="UTF-8"', "Bearer")


def create_app(root: Path, token: str) -> Starlette:
    """The app: ``/<name>.git/...`` for the token, and ``/healthz``."""

    async def repository(request: Request) -> Response:
        name, rest = request.path_params["name"], request.path_params["rest"]
        offered = basic_or_bearer(request.headers.get("authorization"))
        if offered is None or not hmac.compare_digest(offered[1].encode(), token.encode()):
            log.warning("refused %s %s: no valid token", request.method, request.url.path)
            response = refusal(401, "authentication required: send the token")
            for challenge in CHALLENGES:
                response.headers.append("WWW-Authenticate", challenge)
            return response
        try:
            path = repository_path(root, name)
        except GitHttpError as exc:
            return refusal(exc.status, exc.message)
        return await serve(
            request, root=root, repository=path.name, rest=rest, remote_user=offered[0]
        )

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/{name}.git/{rest:path}", repository, methods=["GET", "POST"]),
            Route("/healthz", healthz),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m factoryos.ui.git_service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", type=Path, required=True, metavar="DIR", help="the folder of NAME.git"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    parser.add_argument(
        "--token-file",
        type=Path,
        required=True,
        metavar="FILE",
        help="file holding the token clients must send (surrounding whitespace ignored)",
    )
    parser.add_argument(
        "--init",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="create DIR/NAME.git (bare, branch main) at start unless it exists",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="git service: %(message)s", stream=sys.stderr)
    try:
        token = _token(args.token_file)
        root: Path = args.root
        root.mkdir(parents=True, exist_ok=True)
        for name in args.init:
            if init_bare(_init_path(root, name)):
                log.info("created %s", root / f"{name}.git")
        sock = _bind(args.host, args.port)
    except (GitHttpError, OSError, ValueError) as exc:
        message = exc.message if isinstance(exc, GitHttpError) else str(exc)
        print(f"git service: {message}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("serving %s/<name>.git at http://%s:%s/", root, shown, port)
    config = uvicorn.Config(
        create_app(root, token), log_level="info", lifespan="off", timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


def _init_path(root: Path, name: str) -> Path:
    try:
        return repository_path(root, name)
    except GitHttpError:
        raise ValueError(
            f"--init {name!r}: a name is one path segment of letters, digits, '.', '_' and '-'"
        ) from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


if __name__ == "__main__":
    sys.exit(main())
