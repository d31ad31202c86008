"""The dashboard token file: made on first use, read, and replaced by ``sf token rotate``.

Locally the dashboard's one bearer token lives in ``$FACTORYOS_HOME/dashboard-token``
(mode 0600). ``python -m factoryos.ui`` reads it through a ``TokenFile`` (which
notices a replaced file), ``sf up`` prints it the first time, and ``sf token
rotate`` writes a new one atomically (a new file renamed over the old), so a
reader sees the old token or the new one, never half of either. The dashboard's
sessions are derived from the token (``factoryos.ui.auth``), so a new token
ends every session at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from factoryos.errors import WorkspaceError

TOKEN_FILE = "dashboard-token"  # noqa: S105 - a file name, not a secret


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def read_token(home: Path) -> str | None:
    """The token kept in ``home`` (its mode tightened to 0600), or None when there is none."""
    path = token_path(home)
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WorkspaceError(f"cannot read the dashboard token {path}: {exc.strerror}") from exc
    if not existing:
        return None
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return existing


def load_or_create_token(home: Path) -> tuple[str, bool]:
    """The token stored in ``home`` (created with mode 0600 if missing), and whether it is new."""
    existing = read_token(home)
    if existing is not None:
        return existing, False
    path = token_path(home)
    token = new_token()
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another sf up won the race (or an empty file): use or replace it
        if read_token(home) is None:
            return rotate_token(home), True
        return load_or_create_token(home)
    except OSError as exc:
        raise WorkspaceError(f"cannot write the dashboard token {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True


def rotate_token(home: Path) -> str:
    """Replace the token in ``home`` with a new one (atomically, mode 0600) and return it."""
    path = token_path(home)
    token = new_token()
    staged = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        staged.replace(path)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise WorkspaceError(f"cannot write the dashboard token {path}: {exc.strerror}") from exc
    return token
