"""A bubblewrap sandbox for one Kilroy invocation and everything it starts (issue 21).

The runner builds a ``Sandbox`` for a candidate (``factoryos.runner.sandboxing``)
and gives it to ``Kilroy``, whose ``start`` and ``resume`` then spawn
``bwrap ... -- kilroy attractor run|resume ...`` instead of Kilroy itself; the
local launcher calls ``probe`` once when ``sf up`` starts. Inside, the file
system is an empty root with only what the ``Sandbox`` names:

- the system's programs and libraries (``/usr``, ``/etc``, ``/opt`` and the
  ``/bin``, ``/lib*`` links or folders), read-only;
- ``read_only`` paths (Kilroy, the tools folder, Python, the agent CLIs);
- ``writable`` paths (the candidate's own folder: clone, logs_root, home);
- a fresh ``/proc`` of a new pid namespace (no other process, so no
  ``/proc/<pid>/root`` of the factory's), a minimal ``/dev`` and a private
  ``/tmp``.

Kilroy runs as pid 1 of its pid namespace (``--as-pid-1``): when it exits,
whatever it left behind dies with it. In a session of its own (``--new-session``),
so its session id outside is its own host pid, which ``bwrap --info-fd`` reports
and which goes to ``run.pid`` (what ``stop`` and ``status`` read outside). Kilroy
writes its pid inside the namespace (1) to ``run.pid`` too, so that file is a
private stand-in inside (``private_files``). The network is shared: agents talk
to their model endpoints. Capabilities are dropped. A factory running as root
gives the sandbox a user namespace of its own in which Kilroy is an ordinary
user (``SANDBOX_UID``, root outside): a tool that sandboxes itself with bwrap
again (Codex does) then works, as it does under a non-root factory, where
bwrap always makes a user namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from factoryos.errors import EngineError
from factoryos.kilroy.process import spawn
from factoryos.workloads import ISOLATION_UNAVAILABLE, Sandboxing

__all__ = ["SANDBOX_UID", "SYSTEM_PATHS", "Sandbox", "find_bwrap", "probe"]

#: The user id inside the sandbox of a factory that runs as root (root outside).
SANDBOX_UID = 1000

#: Files of the shown system folders that stay hidden (empty inside): the host's password
#: hashes, which the sandbox's user could otherwise read under a root factory.
MASKED_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")

#: The host's system folders a sandbox shows read-only (a link, on merged-/usr systems,
#: stays a link).
SYSTEM_PATHS = ("/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: The namespaces and settings every sandbox uses (see the module docstring).
_ISOLATION = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--as-pid-1",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",  # noqa: S108 - a fresh tmpfs, private to the sandbox
)


@dataclass(frozen=True)
class Sandbox:
    """What one sandboxed process sees: every path named here, nothing else."""

    bwrap: Path
    read_only: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    #: ``(path, stand_in)``: inside, ``path`` is ``stand_in`` (outside, it stays itself).
    private_files: tuple[tuple[Path, Path], ...] = ()
    #: ``(link, target)`` symbolic links to make (the host's ``/bin -> usr/bin``).
    links: tuple[tuple[Path, str], ...] = ()
    #: The user id inside a user namespace of its own (None: bwrap's default).
    uid: int | None = None
    #: Files shown empty (``/dev/null`` over them), after every other mount.
    masked: tuple[Path, ...] = ()

    @classmethod
    def on_host(
        cls,
        bwrap: Path,
        read_only: Sequence[Path] = (),
        writable: Sequence[Path] = (),
        private_files: Sequence[tuple[Path, Path]] = (),
    ) -> Sandbox:
        """A sandbox with this host's system folders (``SYSTEM_PATHS``) and ``read_only``."""
        links: list[tuple[Path, str]] = []
        system: list[Path] = []
        for name in SYSTEM_PATHS:
            path = Path(name)
            if path.is_symlink():
                links.append((path, str(path.readlink())))
            elif path.is_dir():
                system.append(path)
        return cls(
            bwrap=bwrap,
            read_only=tuple(_unique([*system, *read_only])),
            writable=tuple(_unique(writable)),
            private_files=tuple(private_files),
            links=tuple(links),
            uid=SANDBOX_UID if os.geteuid() == 0 else None,
            masked=tuple(Path(p) for p in MASKED_PATHS if Path(p).exists()),
        )

    def argv(self, command: Sequence[str], *, cwd: Path, info_fd: int | None = None) -> list[str]:
        """``bwrap`` with this sandbox's options, running ``command`` in ``cwd`` (pure).

        Mounts go shallowest first, so a writable folder inside a read-only one (or a
        private file inside a writable folder) is mounted over it, not under it.
        """
        argv = [str(self.bwrap), *_ISOLATION]
        if self.uid is not None:
            argv += ["--unshare-user", "--uid", str(self.uid), "--gid", str(self.uid)]
        for link, target in self.links:
            argv += ["--symlink", target, str(link)]
        mounts = [("--ro-bind", p, p) for p in self.read_only]
        mounts += [("--bind", p, p) for p in self.writable]
        mounts += [("--bind", stand_in, p) for p, stand_in in self.private_files]
        for option, source, dest in sorted(mounts, key=lambda m: len(m[2].parts)):
            argv += [option, str(source), str(dest)]
        for path in self.masked:
            argv += ["--ro-bind", "/dev/null", str(path)]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        return [*argv, "--chdir", str(cwd), "--", *command]

    def spawn(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdout_path: Path,
        stderr_path: Path,
        end_with_parent: bool = False,
        nice: int = 0,
    ) -> tuple[subprocess.Popen[bytes], int]:
        """Start ``command`` in the sandbox: the ``bwrap`` process and the host pid of
        ``command`` (pid 1 inside). ``end_with_parent``: bwrap gets SIGTERM when its
        starter dies, and ``command`` dies with bwrap. ``nice``: as for ``spawn`` (bwrap and
        what it starts inherit it; ``command``'s own session is the caller's to lower).
        ``EngineError`` when no sandbox could be made."""
        for path, stand_in in self.private_files:  # a file mount needs files at both ends
            for end in (path, stand_in):
                end.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            stand_in.write_bytes(b"")  # nothing of an earlier invocation
        read, write = os.pipe()
        try:
            popen = spawn(
                self.argv(command, cwd=cwd, info_fd=write),
                cwd=cwd,
                env=env,
                stdout_path=stdout_path,
                stderr_path=stderr_path,
                end_with_parent=end_with_parent,
                pass_fds=(write,),
                label=command[1:4],
                nice=nice,
            )
        finally:
            os.close(write)
        try:
            pid = _child_pid(read)
        finally:
            os.close(read)
        if pid is None:
            code = popen.wait()
            raise EngineError(
                f"bubblewrap could not make the candidate's sandbox (exit {code}); "
                f"see {stderr_path}"
            )
        return popen, pid


def _child_pid(fd: int) -> int | None:
    """The ``child-pid`` of bwrap's ``--info-fd`` document (None when bwrap ended first).

    bwrap writes the document right after it made the namespaces; the sandbox may keep
    the pipe open, so we stop at the document's closing brace rather than at EOF.
    """
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data.rstrip().endswith(b"}"):
            break
    with contextlib.suppress(ValueError):
        doc = json.loads(data)
        if isinstance(doc, dict) and isinstance(doc.get("child-pid"), int):
            return int(doc["child-pid"])
    return None


def find_bwrap(search_path: str) -> Path | None:
    """The ``bwrap`` on ``search_path`` (or Debian's), if installed."""
    found = shutil.which("bwrap", path=search_path) or shutil.which("bwrap", path="/usr/bin")
    return Path(found) if found else None


def probe(bwrap: Path | None, *, timeout: float = 10.0) -> Sandboxing:
    """Whether a sandbox like the candidates' works here: runs ``true`` in one."""
    if bwrap is None:
        return Sandboxing(
            False,
            ISOLATION_UNAVAILABLE,
            "bubblewrap (bwrap) is not installed: `make tools` or `apt-get install bubblewrap`",
        )
    sandbox = Sandbox.on_host(bwrap)
    true = shutil.which("true", path="/usr/bin:/bin") or "/usr/bin/true"
    try:
        done = subprocess.run(
            sandbox.argv([true], cwd=Path("/")),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Sandboxing(False, ISOLATION_UNAVAILABLE, f"bubblewrap ({bwrap}) failed: {exc}")
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        return Sandboxing(
            False,
            ISOLATION_UNAVAILABLE,
            f"bubblewrap cannot make a sandbox here (no user namespaces, and not root?): {why}",
        )
    return Sandboxing(
        True,
        "Sandboxed",
        f"candidates run in a bubblewrap sandbox ({bwrap}): only their own folder is "
        "writable; the holdouts, FACTORYOS_HOME and other candidates are out of sight",
    )


def _unique(paths: Sequence[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.append(path)
    return seen
