"""A warm fork server for local runner workloads (``python -m factoryos.launch.forkserver``).

``LocalProcessLauncher`` starts one when it is made (``sf up``). The server
imports the runner once, then reads one JSON request per line on stdin
(``{"spec": ..., "output": ..., "process": ..., "niceness": N, "env": {...}}``),
forks a child for each, records the child in the request's ``process.json``
(``launch.processrecord``) and only then answers its pid on stdout. The launcher
does not wait for that answer when it asks (a batch of runs started in a row costs
one round trip, not one each); because the record is written before the answer, a
workload is never running unrecorded longer than a fork takes. The child leaves the
server's session and gives that session's scheduling group (autogroup) the nice
value ``niceness`` (``Settings.build_nice``; ``factoryos.kilroy.priority``), so that
200 runners starting at once (cloning, validating, starting Kilroy) yield the CPU to
the control plane and to this server; once its Kilroy runs, the runner takes its
group back (it follows the events), sends its output to the
workload's ``output.log``, takes the request's environment and runs the runner
entrypoint (``factoryos.worker.main``, the same one a Job pod runs), so a workload
starts in milliseconds instead of paying Python's start-up and imports. Children are
reaped by the kernel (SIGCHLD ignored); how a workload ended is in its
``result.json``. When stdin closes (the control plane exited or was killed) the
server exits and the children carry on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import factoryos.worker as entrypoint
from factoryos.kilroy.priority import SessionChange
from factoryos.launch.preload import preload
from factoryos.launch.processrecord import write_process_record


def serve(
    requests: BinaryIO,
    replies: BinaryIO,
    main: Callable[[list[str]], int] = entrypoint.main,
) -> None:
    """Fork a child running ``main([spec])`` for each request until ``requests`` ends."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in sf up's terminal is not for us
    preload()  # what every runner would do for itself first, once for all of them
    for line in requests:
        request: dict[str, Any] = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _child(request, main)
            finally:
                os._exit(4)
        write_process_record(Path(request["process"]), pid)
        replies.write(f"{pid}\n".encode())
        replies.flush()


def _child(request: dict[str, Any], main: Callable[[list[str]], int]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()
    niceness = int(request.get("niceness", 0))
    if niceness > 0:
        # Its session's group only: the runner takes it back once Kilroy runs
        # (``restore_own_session``), which a process's own nice value could not do.
        SessionChange(os.getpid(), niceness).start()
    devnull = os.open(os.devnull, os.O_RDONLY)
    output = os.open(request["output"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(devnull)
    os.close(output)
    os.chdir(Path(request["spec"]).parent)
    os.environ.clear()
    os.environ.update(request["env"])
    code = main([request["spec"]])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
