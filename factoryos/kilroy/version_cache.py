"""What ``kilroy --version`` answered, remembered per binary file.

``find_kilroy`` checks the binary's version before every use; starting the Go
binary for that costs 30-80 ms, a third of what ``sf pipeline run`` may add to a
run. ``find_kilroy`` asks ``cached_version`` first and, after a check that
passed, calls ``remember_version``. An entry holds the file's device, inode,
size, and modification and change times (ns): rewriting, replacing, moving or
chmod-ing the binary changes one of them, and the binary is run again. A file
changed less than ``SETTLE_SECONDS`` before the check is not remembered: a
rewrite within the file system's time-stamp granularity could leave every
field as it was (git's "racy" index entries). The cache is one JSON file in the
Kilroy state dir; one that cannot be read or written is not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

__all__ = ["CACHE_FILE", "SETTLE_SECONDS", "cached_version", "remember_version"]

#: The cache's name in the Kilroy state dir.
CACHE_FILE = "kilroy-versions.json"
#: A binary changed more recently than this is checked every time.
SETTLE_SECONDS = 2.0


def _identity(binary: Path) -> list[int] | None:
    try:
        st = binary.stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _entries(cache: Path) -> dict[str, object]:
    try:
        value = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def cached_version(cache: Path, binary: Path) -> str | None:
    """The version ``binary`` reported when it was last checked, if it is the same file."""
    entry = _entries(cache).get(str(binary))
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
        return None
    identity = _identity(binary)
    if identity is None or entry.get("file") != identity:
        return None
    return str(entry["version"])


def remember_version(cache: Path, binary: Path, version: str) -> None:
    """Record that ``binary`` reported ``version`` (unless it changed just now)."""
    identity = _identity(binary)
    if identity is None or time.time_ns() - max(identity[3:]) < SETTLE_SECONDS * 1e9:
        return
    entries = _entries(cache)
    entries[str(binary)] = {"file": identity, "version": version}
    # Written whole and renamed, so a reader never sees half a file.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(entries, indent=2) + "\n")
        partial.replace(cache)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
