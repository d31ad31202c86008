"""Finding the Kilroy binary and checking its version.

``find_kilroy`` is called once by whoever builds a ``Kilroy`` adapter (the CLI,
the runner, the controller). It looks in this order, first hit wins:

1. ``settings.kilroy_binary`` (an explicit setting),
2. the ``FACTORYOS_KILROY`` environment variable,
3. ``settings.tools_dir / "kilroy"`` (where ``make tools`` installs it),
4. ``PATH`` (``settings.search_path``).

An explicit choice (1 or 2) that does not exist is an error rather than a
silent fall-through, so a typo never runs some other Kilroy. The binary is then
run with ``--version``: output that is not Kilroy's, or a version older than
the pin, raises ``ToolMissingError``; a newer version is accepted with a
warning the caller can show. The answer is remembered per binary file in the
Kilroy state dir (``version_cache``), so an unchanged binary is not run again.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from factoryos.errors import ToolMissingError
from factoryos.kilroy.version_cache import CACHE_FILE, cached_version, remember_version
from factoryos.settings import Settings

__all__ = [
    "KILROY_MODULE",
    "PINNED_VERSION",
    "KilroyBinary",
    "expected_version",
    "find_kilroy",
    "parse_version_output",
    "pinned_version_from_go_mod",
]

#: The Kilroy version Factory OS is built and tested against. ``tools/go/go.mod``
#: records the same pin for ``make tools``; a unit test keeps the two equal.
PINNED_VERSION = "0.1.0"
KILROY_MODULE = "github.com/danshapiro/kilroy"
ENV_VAR = "FACTORYOS_KILROY"

#: ``tools/go/go.mod`` of a source checkout (absent in an installed wheel).
SOURCE_GO_MOD = Path(__file__).resolve().parents[2] / "tools" / "go" / "go.mod"

INSTALL_HINT = (
    f'install it with "make tools" (go install {KILROY_MODULE}/cmd/kilroy@v{PINNED_VERSION}) '
    f"or set {ENV_VAR}"
)

_VERSION_LINE = re.compile(r"^kilroy\s+v?(?P<version>\S+)\s*$")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


class KilroyBinary(NamedTuple):
    """A Kilroy executable that answered ``--version``."""

    path: Path
    version: str
    #: Set when the version differs from the pin in a way that still works (newer).
    warning: str | None = None


def find_kilroy(settings: Settings, env: Mapping[str, str]) -> KilroyBinary:
    """The Kilroy binary to use, checked; ``ToolMissingError`` says how to install it."""
    looked: list[str] = []
    cache = settings.kilroy_state_dir / CACHE_FILE
    for origin, candidate in (
        ("settings", settings.kilroy_binary),
        (ENV_VAR, Path(env[ENV_VAR]).expanduser() if env.get(ENV_VAR) else None),
    ):
        if candidate is None:
            continue
        if not _is_executable_file(candidate):
            raise ToolMissingError(
                f"kilroy not found: {origin} points at {candidate}, which is not an executable "
                f"file; {INSTALL_HINT}"
            )
        return _checked(candidate, cache)
    tools_candidate = settings.tools_dir / "kilroy"
    looked.append(str(settings.tools_dir))
    if _is_executable_file(tools_candidate):
        return _checked(tools_candidate, cache)
    looked.append("PATH")
    import shutil  # here: with bz2 and lzma, 3 ms before every Kilroy start found elsewhere

    on_path = shutil.which("kilroy", path=settings.search_path or None)
    if on_path:
        return _checked(Path(on_path), cache)
    raise ToolMissingError(f"kilroy not found (looked in: {', '.join(looked)}); {INSTALL_HINT}")


def expected_version(go_mod: Path = SOURCE_GO_MOD) -> str:
    """The pinned version: from ``tools/go/go.mod`` in a source checkout, else the constant."""
    return pinned_version_from_go_mod(go_mod) or PINNED_VERSION


def pinned_version_from_go_mod(go_mod: Path) -> str | None:
    """The Kilroy version a go.mod requires (without the ``v``), or None when absent."""
    try:
        text = go_mod.read_text()
    except OSError:
        return None
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(KILROY_MODULE)}\s+v(\S+)", text, re.M)
    return match.group(1) if match else None


def parse_version_output(output: str) -> str | None:
    """``0.1.0`` from ``kilroy 0.1.0`` (the first line); None when it is not Kilroy's output."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    match = _VERSION_LINE.match(first.strip())
    return match.group("version") if match else None


def _checked(path: Path, cache: Path) -> KilroyBinary:
    path = path.absolute()
    remembered = cached_version(cache, path)
    if remembered is not None:
        return KilroyBinary(
            path=path, version=remembered, warning=_version_warning(path, remembered)
        )
    try:
        proc = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(f"kilroy at {path} is not runnable ({exc}); {INSTALL_HINT}") from exc
    version = parse_version_output(proc.stdout)
    if proc.returncode != 0 or version is None:
        said = (proc.stdout + proc.stderr).strip().splitlines()
        raise ToolMissingError(
            f"{path} does not look like kilroy (`--version` exited {proc.returncode}"
            f"{': ' + said[0] if said else ''}); {INSTALL_HINT}"
        )
    binary = KilroyBinary(path=path, version=version, warning=_version_warning(path, version))
    remember_version(cache, path, version)
    return binary


def _version_warning(path: Path, version: str) -> str | None:
    want = expected_version()
    if version == want:
        return None
    have_key, want_key = _semver_key(version), _semver_key(want)
    if have_key is None or want_key is None:
        return f"kilroy at {path} reports version {version!r}; Factory OS is tested with {want}"
    if have_key < want_key:
        raise ToolMissingError(
            f"kilroy at {path} is {version}, older than the pinned {want}; {INSTALL_HINT}"
        )
    return f"kilroy at {path} is {version}, newer than the pinned {want}; it may behave differently"


def _semver_key(version: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(version.lstrip("v"))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
