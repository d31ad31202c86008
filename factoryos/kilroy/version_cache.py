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
Kilroy state dir; one that cannot be read or written is not used. ``validation_cache``
remembers pipelines the same way, with ``file_identity``, ``read_entries`` and
``write_entries``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

__all__ = [
    "CACHE_FILE",
    "SETTLE_SECONDS",
    "cached_version",
    "file_identity",
    "read_entries",
    "remember_version",
    "settled",
    "write_entries",
]

#: The cache's name in the Kilroy state dir.
CACHE_FILE = "kilroy-versions.json"
#: A binary changed more recently than this is checked every time.
SETTLE_SECONDS = 2.0


def file_identity(path: Path) -> list[int] | None:
    """What changes when the file is rewritten, replaced, moved or chmod-ed: its device,
    inode, size, and modification and change times (ns); None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def settled(identity: list[int]) -> bool:
    """Whether a file of that identity last changed ``SETTLE_SECONDS`` ago or more."""
    return time.time_ns() - max(identity[3:]) >= SETTLE_SECONDS * 1e9


def read_entries(cache: Path) -> dict[str, object]:
    """The cache's entries by key; none when it cannot be read."""
    try:
        value = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_entries(cache: Path, entries: dict[str, object]) -> None:
    """Write the cache whole and rename it into place, so a reader never sees half a file;
    a cache that cannot be written is left as it was."""
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(entries, indent=2) + "\n")
        partial.replace(cache)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()


def cached_version(cache: Path, binary: Path) -> str | None:
    """The version ``binary`` reported when it was last checked, if it is the same file."""
    entry = read_entries(cache).get(str(binary))
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
        return None
    identity = file_identity(binary)
    if identity is None or entry.get("file") != identity:
        return None
    return str(entry["version"])


def remember_version(cache: Path, binary: Path, version: str) -> None:
    """Record that ``binary`` reported ``version`` (unless it changed just now)."""
    identity = file_identity(binary)
    if identity is None or not settled(identity):
        return
    entries = read_entries(cache)
    entries[str(binary)] = {"file": identity, "version": version}
    write_entries(cache, entries)
