"""What every forked runner would pay for itself on first use, done once before forking.

``factoryos.launch.forkserver`` calls ``preload`` when it starts, after importing the
runner: its children inherit the result. Each item is work a runner did on its way to
its Kilroy's first stage and that is the same for every runner (measured under
cProfile, 2 cores; the whole start of a run is about 0.2-0.3 s of CPU, and 200 runs
start at once):

- the runner's inotify binding (``filewatch.preload``: its import, libc found once);
- ``datetime.strptime``'s first call, which imports ``_strptime`` and compiles the
  pattern of each format (every event read back, ``factoryos.events.record.parse``);
- the pattern reading Kilroy's pin from ``go.mod`` (``expected_version``, asked each
  time a runner checks its Kilroy binary), compiled into ``re``'s cache;
- which of the sandbox's system folders exist (``sandboxing.system_roots``).

Then the server's objects are moved out of the collector's sight (``gc.freeze``): a
child's collections no longer walk the server's heap, which would both cost CPU and
write to (so copy) every page of it.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime

from factoryos import filewatch
from factoryos.events.record import EventRecord, line, parse
from factoryos.kilroy.binary import expected_version
from factoryos.runner.sandboxing import system_roots

__all__ = ["preload"]


def preload() -> None:
    """Warm what the module docstring lists, then freeze the heap for the children."""
    filewatch.preload()
    for stamp in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, 0, 0, 0, 1, UTC)):
        written = line(EventRecord(id="0", source="/products/p/runs/r",
                                   type="dev.factoryos.warm", time=stamp, sequence=1,
                                   data={}))  # fmt: skip
        if written is not None:
            parse(written.encode())  # both spellings of the time: each format compiles once
    expected_version()
    system_roots()
    gc.collect()
    gc.freeze()
