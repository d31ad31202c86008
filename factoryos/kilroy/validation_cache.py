"""Pipelines Kilroy found valid, remembered per file, so that an unchanged one is not
validated again before a run.

``sf pipeline run`` starts ``kilroy attractor validate`` first of all and waits for
its answer before Kilroy's run is spawned: a Go start, 10-20 ms on two busy cores,
which had become the longest wait on that way. ``quick.start_validation``, given this
cache, asks ``remembered_valid`` for each file first and, once Kilroy found a file
without errors, calls ``remember_valid``. An entry holds the identity of the pipeline
file and of the Kilroy binary that validated it (device, inode, size, modification
and change times, as ``version_cache`` keeps the binary's version; a file changed
less than ``SETTLE_SECONDS`` before is not remembered): the same file, unchanged,
validated by the same binary, is valid again. Kilroy's run validates it once more
itself before it changes anything. Nothing else is kept: a file with errors is
validated every time (its findings are what the user reads), and a run shows no
warnings. ``sf pipeline validate`` always asks Kilroy. The cache is one JSON file in
the Kilroy state dir, holding the ``KEPT`` files validated last.
"""

from __future__ import annotations

from pathlib import Path

from factoryos.kilroy.version_cache import file_identity, read_entries, settled, write_entries

__all__ = ["KEPT", "VALIDATIONS_FILE", "remember_valid", "remembered_valid"]

#: The cache's name in the Kilroy state dir.
VALIDATIONS_FILE = "valid-pipelines.json"
#: How many pipeline files it remembers (those validated last).
KEPT = 64


def remembered_valid(cache: Path, pipeline: Path, kilroy: Path) -> bool:
    """Whether ``kilroy`` found ``pipeline`` valid as the file is now."""
    entry = read_entries(cache).get(str(pipeline.absolute()))
    if not isinstance(entry, dict):
        return False
    now = file_identity(pipeline), file_identity(kilroy)
    return None not in now and [entry.get("pipeline"), entry.get("kilroy")] == list(now)


def remember_valid(cache: Path, pipeline: Path, kilroy: Path) -> None:
    """Record that ``kilroy`` found ``pipeline`` valid (unless either changed just now)."""
    identities = file_identity(pipeline), file_identity(kilroy)
    if any(i is None or not settled(i) for i in identities):
        return
    key = str(pipeline.absolute())
    entries = read_entries(cache)
    entries.pop(key, None)  # last validated last, so the oldest are dropped first
    entries[key] = {"pipeline": identities[0], "kilroy": identities[1]}
    write_entries(cache, dict(list(entries.items())[-KEPT:]))
