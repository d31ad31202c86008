"""Git's smart HTTP protocol, served by bridging to ``git http-backend`` (CGI).

This is the factory git service's engine. The dashboard serves each run's
repository with it (``/git/runs/<namespace>/<run>.git``, with the run's token:
``api.run_repository``), and ``python -m factoryos.ui.git_service`` serves a
folder of bare repositories behind one token. Callers check who may use the
repository; this module only speaks git.

One request is one ``git http-backend`` process, started and read in worker
threads so the event loop never waits on git:

- ``smart_service`` accepts only the smart protocol's three paths
  (``info/refs?service=…``, ``git-upload-pack``, ``git-receive-pack``);
- ``repository_path`` keeps repository names inside the root (one path
  segment, no ``..``, no symlink out of it);
- the request body (git gzips it; http-backend inflates it itself) is spooled
  to an unlinked temporary file beside the repository, never into memory or
  ``/tmp`` (the dashboard's root filesystem is read-only), and becomes the
  backend's stdin with an exact ``CONTENT_LENGTH``;
- ``cgi_environment`` builds the backend's environment: the repository, the
  request, the pushing user, and ``http.receivepack`` enabled for this process
  only (git's own variables and the caller's ``GIT_*`` never reach it);
- ``split_cgi_output`` and ``parse_cgi_head`` turn the backend's CGI head
  (``Status:`` and headers) into the response's status and headers, and the
  rest is streamed to the client as git writes it, so a clone of a large
  repository is never held in memory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

log = logging.getLogger(__name__)

#: The two services of git's smart protocol: fetch and clone, and push.
SERVICES = ("git-upload-pack", "git-receive-pack")
#: A repository name (``<name>.git`` under the root): one path segment.
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: The biggest request body taken (a push's pack).
MAX_REQUEST_BYTES = 2 * 1024**3
#: The most the backend may write before the blank line that ends its CGI head.
MAX_HEAD_BYTES = 64 * 1024
CHUNK = 64 * 1024
#: The CGI variables this module sets (any inherited ones are dropped first).
CGI_VARIABLES = frozenset(
    {
        "GATEWAY_INTERFACE",
        "SERVER_PROTOCOL",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "REQUEST_METHOD",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "REMOTE_USER",
        "REMOTE_ADDR",
    }
)
#: Request headers the backend reads, and the CGI variables they travel in.
FORWARDED_HEADERS = (
    ("content-encoding", "HTTP_CONTENT_ENCODING"),  # gzip: http-backend inflates it
    ("git-protocol", "HTTP_GIT_PROTOCOL"),  # protocol v2
)
#: Response headers the server sets itself (the body is streamed).
SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


class GitHttpError(Exception):
    """A request refused before (or instead of) reaching the backend."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refusal(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A plain-text error: git prints such a body to the user as ``remote: …``."""
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


# --- the pure parts -------------------------------------------------------------------


def repository_path(root: Path, name: str) -> Path:
    """``root/<name>.git`` for a name that stays inside ``root``; else GitHttpError(404)."""
    if not REPOSITORY_NAME.fullmatch(name) or ".." in name:
        raise GitHttpError(404, f"no repository {name!r} here (a name is one path segment)")
    path = root / f"{name}.git"
    if not path.resolve().is_relative_to(root.resolve()):
        raise GitHttpError(404, f"no repository {name!r} here (it leads out of the root)")
    return path


def smart_service(method: str, rest: str, query: str) -> str:
    """The service a request inside a repository is for; GitHttpError when it is not git's
    smart protocol (the dumb protocol's files, another path, the wrong method)."""
    if rest == "info/refs":
        service = parse_qs(query).get("service", [""])[0]
        if service not in SERVICES:
            raise GitHttpError(
                403, "only git's smart protocol is served (info/refs?service=git-upload-pack)"
            )
        wanted = "GET"
    elif rest in SERVICES:
        service, wanted = rest, "POST"
    else:
        raise GitHttpError(404, f"{rest!r} is not a path of git's smart HTTP protocol")
    if method != wanted:
        raise GitHttpError(405, f"{rest} takes {wanted}, not {method}")
    return service


def cgi_environment(
    *,
    project_root: Path,
    path_info: str,
    method: str,
    query: str,
    headers: Mapping[str, str],
    content_length: int,
    remote_user: str,
    base: Mapping[str, str],
) -> dict[str, str]:
    """The environment of ``git http-backend`` for one request.

    ``headers`` is looked up by lowercase name (Starlette's ``Headers`` is). From
    ``base`` (the server's environment) it keeps what git needs to run (``PATH``,
    ``HOME``) but no ``GIT_*`` (a ``GIT_DIR`` or ``GIT_CONFIG_*`` of the server's must
    not steer the backend), no ``HTTP_*`` and no CGI variable.
    """
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(("GIT_", "HTTP_")) and key not in CGI_VARIABLES
    }
    env.update(
        {
            "GIT_PROJECT_ROOT": str(project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # Pushes: http-backend refuses receive-pack unless this is set (or REMOTE_USER
            # is, which a reverse proxy could forge); the caller has checked the token.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "PATH_INFO": path_info,
            "REQUEST_METHOD": method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(content_length),
            "REMOTE_USER": remote_user,
        }
    )
    for header, variable in FORWARDED_HEADERS:
        value = headers.get(header)
        if value:
            env[variable] = value
    return env


@dataclass(frozen=True)
class CgiHead:
    """The status and headers of a CGI response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def split_cgi_output(output: bytes) -> tuple[bytes, bytes] | None:
    """The head and what follows the blank line that ends it; None while there is none."""
    ends = [(at, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (at := output.find(sep)) >= 0]
    if not ends:
        return None
    at, length = min(ends)
    return output[:at], output[at + length :]


def parse_cgi_head(head: bytes) -> CgiHead:
    """``Status: 404 Not Found`` and ``Name: value`` lines; ValueError when it is not CGI."""
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or " " in name:
            raise ValueError(f"not a CGI header line: {line[:80]!r}")
        if name.lower() == "status":
            code = value.split(" ", 1)[0]
            if not (code.isdigit() and 100 <= int(code) <= 599):
                raise ValueError(f"not a CGI status: {value[:80]!r}")
            status = int(code)
        elif name.lower() not in SERVER_HEADERS:
            headers[name] = value
    return CgiHead(status, headers)


def parse_cgi_response(output: bytes) -> tuple[CgiHead, bytes]:
    """A whole CGI response: its head and its body; ValueError when it has no head."""
    parts = split_cgi_output(output)
    if parts is None:
        raise ValueError("the CGI response has no blank line after its headers")
    return parse_cgi_head(parts[0]), parts[1]


def basic_or_bearer(authorization: str | None) -> tuple[str, str] | None:
    """The user and token of ``Bearer <token>`` (user "token") or of HTTP Basic with the
    token as the password (any user name), or None."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return "token", value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        if colon and password:
            return user or "token", password
    return None


# --- the backend process --------------------------------------------------------------


def git_environment() -> dict[str, str]:
    """The server's environment without git's variables, for the git commands it runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def init_bare(path: Path) -> bool:
    """Create the bare repository ``path`` (default branch main) unless it is there; True
    when this call made it. Safe against a concurrent call: each makes its own in a
    temporary folder beside it and renames it into place, and only one rename wins."""
    if (path / "HEAD").is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        made = subprocess.run(
            ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(partial)],
            capture_output=True, text=True, env=git_environment(), check=False,
        )  # fmt: skip
        if made.returncode != 0:
            raise GitHttpError(500, f"git init --bare {path.name}: {made.stderr.strip()}")
        try:
            partial.rename(path)
        except OSError:
            if not (path / "HEAD").is_file():
                raise
            return False
        return True
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _spool(directory: Path) -> IO[bytes]:
    """An unlinked temporary file in ``directory`` (writable: the repository itself), or in
    the default temporary folder when it is not."""
    try:
        return tempfile.TemporaryFile(dir=directory)
    except OSError:
        return tempfile.TemporaryFile()


@dataclass
class _Backend:
    """A running ``git http-backend``, read up to the end of its output (``ended``)."""

    process: subprocess.Popen[bytes]
    errors: IO[bytes]
    what: str
    ended: bool = False

    def read(self) -> bytes:
        assert self.process.stdout is not None
        chunk = self.process.stdout.read(CHUNK)
        self.ended = not chunk
        return chunk

    def close(self) -> None:
        """Wait for the backend to exit (killed first if the client left before the end of
        its output) and log a failure with what it wrote to stderr."""
        if not self.ended and self.process.poll() is None:
            # The whole group: git's wrapper, http-backend, upload-pack and pack-objects.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            log.info("%s: stopped (the response was not read to its end)", self.what)
        code = self.process.wait()
        if code > 0:
            self.errors.seek(0)
            detail = self.errors.read().decode(errors="replace").strip()[-2000:]
            log.warning("%s: git http-backend exited %s: %s", self.what, code, detail)
        elif code == 0:
            log.info("%s: ok", self.what)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.errors.close()


def _start(
    env: dict[str, str], body: IO[bytes], spool_dir: Path, what: str
) -> tuple[_Backend, CgiHead, bytes]:
    """Start the backend on ``body`` and read its CGI head: the backend, the head, and the
    first bytes of the body that came with it."""
    errors = _spool(spool_dir)
    try:
        process = subprocess.Popen(
            ["git", "http-backend"],
            stdin=body, stdout=subprocess.PIPE, stderr=errors, env=env, bufsize=0,
            start_new_session=True,  # its own process group, so close() can stop all of it
        )  # fmt: skip
    except OSError as exc:
        errors.close()
        raise GitHttpError(500, f"cannot run git http-backend: {exc.strerror or exc}") from None
    backend = _Backend(process, errors, what)
    output = b""
    while (parts := split_cgi_output(output)) is None:
        chunk = backend.read()
        if not chunk or len(output) > MAX_HEAD_BYTES:
            backend.close()
            raise GitHttpError(502, "git http-backend ended without a response")
        output += chunk
    try:
        head = parse_cgi_head(parts[0])
    except ValueError as exc:
        backend.close()
        raise GitHttpError(502, f"git http-backend: {exc}") from None
    return backend, head, parts[1]


async def _stream(backend: _Backend, first: bytes) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        while chunk := await anyio.to_thread.run_sync(backend.read):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(backend.close)


async def serve(
    request: Request,
    *,
    root: Path,
    repository: str,
    rest: str,
    remote_user: str,
    create: bool = False,
) -> Response:
    """Answer a smart-HTTP request for ``root/<repository>`` (a bare repository; made on
    first use with ``create``, else it must exist). The caller has authorized it."""
    try:
        service = smart_service(request.method, rest, request.url.query)
        path = root / repository
        if create:
            await anyio.to_thread.run_sync(init_bare, path)
        elif not (path / "HEAD").is_file():
            raise GitHttpError(404, f"no repository {repository} here")
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_REQUEST_BYTES:
            raise GitHttpError(413, f"send at most {MAX_REQUEST_BYTES} bytes at once")
        body = await anyio.to_thread.run_sync(_spool, path)
        try:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_REQUEST_BYTES:
                    raise GitHttpError(413, f"send at most {MAX_REQUEST_BYTES} bytes at once")
                await anyio.to_thread.run_sync(body.write, chunk)
            body.seek(0)
            env = cgi_environment(
                project_root=root,
                path_info=f"/{repository}/{rest}",
                method=request.method,
                query=request.url.query,
                headers=request.headers,
                content_length=size,
                remote_user=remote_user,
                base=os.environ,
            )
            what = f"{remote_user} {service} {repository}"
            backend, head, first = await anyio.to_thread.run_sync(_start, env, body, path, what)
        finally:
            body.close()  # the backend has its own descriptor of it
    except GitHttpError as exc:
        return refusal(exc.status, exc.message)
    return StreamingResponse(_stream(backend, first), status_code=head.status, headers=head.headers)
