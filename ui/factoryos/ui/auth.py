"""Who may use the dashboard: one bearer token, a session cookie, CSRF tokens.

The token is generated on the first ``sf up`` and kept in
``$FACTORYOS_HOME/dashboard-token`` (mode 0600); on a cluster it comes from
a Secret through ``FACTORYOS_DASHBOARD_TOKEN``. API clients send it as
``Authorization: Bearer``; a browser signs in once with it and then holds an
HttpOnly, SameSite=Strict session cookie. The cookie and the CSRF token are
HMACs of the token, so the server keeps no session table and changing the
token signs everyone out. Cookie-authenticated requests that change state
need the CSRF token and a same-origin ``Origin`` (when the browser sends
one); WebSocket handshakes need a same-origin ``Origin`` too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from factoryos.errors import WorkspaceError

SESSION_COOKIE = "factoryos_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
TOKEN_FILE = "dashboard-token"  # noqa: S105 - a file name, not a secret
TOKEN_ENV = "FACTORYOS_DASHBOARD_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class Credentials:
    """The dashboard's token and what is derived from it."""

    token: str

    @property
    def session(self) -> str:
        return _derive(self.token, "session")

    @property
    def csrf(self) -> str:
        return _derive(self.token, "csrf")

    def token_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def session_ok(self, cookie: str | None) -> bool:
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session.encode())

    def csrf_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf.encode())


def _derive(token: str, purpose: str) -> str:
    return hmac.new(
        token.encode(), f"factoryos-dashboard:{purpose}".encode(), hashlib.sha256
    ).hexdigest()


def load_or_create_token(home: Path) -> tuple[str, bool]:
    """The token stored in ``home`` (created with mode 0600 if missing), and whether it is new."""
    path = home / TOKEN_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    except OSError as exc:
        raise WorkspaceError(f"cannot read the dashboard token {path}: {exc.strerror}") from exc
    if existing:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return existing, False
    token = secrets.token_urlsafe(32)
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another sf up won the race: use its token
        return load_or_create_token(home)
    except OSError as exc:
        raise WorkspaceError(f"cannot write the dashboard token {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def same_origin(origin: str | None, host: str | None) -> bool:
    """Whether a browser's ``Origin`` names this server (absent counts as same: not a browser)."""
    if origin is None:
        return True
    if host is None:
        return False
    scheme, _, rest = origin.partition("://")
    return scheme in {"http", "https"} and rest == host
