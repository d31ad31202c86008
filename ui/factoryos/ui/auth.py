"""Who may use the dashboard: one bearer token, a session cookie, CSRF tokens.

The token is generated on the first ``sf up`` and kept in
``$FACTORYOS_HOME/dashboard-token`` (mode 0600, ``factoryos.tokens``; read
through ``TokenFile``, so ``sf token rotate`` takes effect at once); on a
cluster it comes from a Secret through ``FACTORYOS_DASHBOARD_TOKEN``. API clients send it as
``Authorization: Bearer``; a browser signs in once with it and then holds an
HttpOnly, SameSite=Strict session cookie. The cookie and the CSRF token are
HMACs of the token, so the server keeps no session table and changing the
token signs everyone out. Every comparison is constant-time
(``hmac.compare_digest``), and failed sign-ins are rate-limited
(``factoryos.ui.throttle``). Cookie-authenticated requests that change state
need the CSRF token and a same-origin ``Origin`` (when the browser sends
one); WebSocket handshakes need a same-origin ``Origin`` too.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from factoryos.errors import WorkspaceError
from factoryos.tokens import read_token, token_path

SESSION_COOKIE = "factoryos_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
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

    def current(self) -> Credentials:
        """A fixed token is its own source (the cluster's Secret, the tests)."""
        return self


def _derive(token: str, purpose: str) -> str:
    return hmac.new(
        token.encode(), f"factoryos-dashboard:{purpose}".encode(), hashlib.sha256
    ).hexdigest()


class CredentialSource(Protocol):
    """Where the dashboard reads its credentials on each request."""

    def current(self) -> Credentials: ...


class TokenFile:
    """The credentials of a home's token file, re-read when ``sf token rotate`` replaces it.

    Each request stats the file (cheap); a new inode, size or mtime means a new token,
    and with it new session and CSRF values, so every old session ends. A file that
    disappears or cannot be read keeps the last token (the dashboard never opens up).
    """

    def __init__(self, home: Path, token: str) -> None:
        self._path = token_path(home)
        self._home = home
        self._credentials = Credentials(token)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def current(self) -> Credentials:
        stamp = self._stamp()
        if stamp is not None and stamp != self._seen:
            try:
                token = read_token(self._home)
            except WorkspaceError:
                token = None
            if token is not None:
                self._credentials = Credentials(token)
                self._seen = stamp
        return self._credentials


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
