"""Names of the files Factory OS keeps in a run directory next to Kilroy's logs_root.

A run directory (``RunSpec.run_dir``) holds::

    run_config.json        the config given to Kilroy (config.py)
    modeldb-catalog.json   the pinned model catalog it points at
    launch.json            what resume needs again (inputs, profile), no secrets
    kilroy.stdout.log      Kilroy's stdout and stderr, one header line per invocation
    kilroy.stderr.log
    logs/                  Kilroy's logs_root (LogsRoot)
"""

from __future__ import annotations

__all__ = [
    "CATALOG_FILE",
    "CONFIG_FILE",
    "INVOCATION_MARK",
    "LAUNCH_FILE",
    "LOGS_DIR",
    "STDERR_FILE",
    "STDOUT_FILE",
]

LOGS_DIR = "logs"
CONFIG_FILE = "run_config.json"
CATALOG_FILE = "modeldb-catalog.json"
LAUNCH_FILE = "launch.json"
STDOUT_FILE = "kilroy.stdout.log"
STDERR_FILE = "kilroy.stderr.log"

#: Start of the header line written before each Kilroy invocation's output in the logs.
INVOCATION_MARK = "=== factoryos: "
