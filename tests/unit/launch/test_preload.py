"""The fork server's preload: what it warms is there for the children it forks, and its
heap is out of their collector's sight."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, re, sys
from factoryos.launch.preload import preload
from factoryos.runner.sandboxing import system_roots
preload()
import _strptime
formats = set(_strptime._regex_cache)
print("%Y-%m-%dT%H:%M:%S" in formats, "%Y-%m-%dT%H:%M:%S.%f" in formats)
print(system_roots.cache_info().currsize)
print(gc.get_freeze_count() > 10000)
"""


def test_preload_compiles_the_event_time_formats_and_freezes_the_heap() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "True", "1", "True"]
