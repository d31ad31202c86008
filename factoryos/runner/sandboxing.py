"""What a candidate's sandbox shows: ``candidate_sandbox`` and ``evaluation_sandbox``
(pure), for the worker.

``factoryos.worker`` calls ``candidate_sandbox`` for a build workload the local
launcher marked ``sandbox`` and hands the result to ``Kilroy``, which runs
``kilroy attractor run|resume`` (and so every tool node and agent CLI) inside it
(``factoryos.kilroy.sandbox``); for a marked evaluation workload it gives the
evaluation ``evaluation_sandbox``, where the candidate's verifiers, service and
scenario commands run (the evaluation reads the holdouts; the candidate's code
does not see them). It is an allow-list: the system folders, and

- read-only: the Kilroy binary, the tools folder with the packages its links
  point into (the agent CLIs live in a cache under the user's home), the
  runner's Python (its venv and base installation: pipelines run ``python3``),
  the folders on ``PATH``, the stand-in agent of a ``test_shim`` product;
- writable: the candidate's own folder (its clone, Kilroy's logs_root, its home).

Never shown, whatever ``PATH`` says: ``FACTORYOS_HOME`` (the store, the
dashboard token, the ingest key, other runs; only its tools folder), the
user's home itself and ``/tmp`` (entries inside the home, like ``~/go/bin``, are
shown; the home's other files are not), the run directory beyond the
candidate. Anything else not named, a product's holdouts included wherever
they are, is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

from factoryos.kilroy.sandbox import SYSTEM_PATHS, Sandbox
from factoryos.settings import Settings
from factoryos.workloads import WorkloadSpec


def candidate_sandbox(
    spec: WorkloadSpec,
    *,
    bwrap: Path,
    kilroy: Path,
    settings: Settings,
    env: Mapping[str, str],
    python_prefixes: Sequence[Path],
    scratch: Path = Path("/tmp"),  # noqa: S108 - never shown, not used
) -> Sandbox:
    """The sandbox of ``spec``'s candidate (see the module docstring); ``scratch`` is the
    host's shared temporary folder (a private one is mounted in its place)."""
    candidate = spec.layout.candidate(spec.candidate).resolve()
    extra = [kilroy.resolve()]
    if spec.agent_executable is not None:
        extra.append(spec.agent_executable.resolve())
    shown = _shown(extra, spec.run_dir, settings=settings, env=env,
                   python_prefixes=python_prefixes, scratch=scratch)  # fmt: skip
    return Sandbox.on_host(bwrap, read_only=shown, writable=[candidate])


def evaluation_sandbox(
    folder: Path,
    run_dir: Path,
    *,
    bwrap: Path,
    settings: Settings,
    env: Mapping[str, str],
    python_prefixes: Sequence[Path],
    scratch: Path = Path("/tmp"),  # noqa: S108 - never shown, not used
) -> Sandbox:
    """Where the evaluation runs a candidate's own code (its verifiers, its service, the
    scenarios' commands): the same allow-list as a build, with ``folder`` (the
    candidate's checkout and home in this evaluation) the only writable place. The
    holdouts, which the evaluation itself reads, are out of sight there like everywhere
    else not named."""
    shown = _shown([], run_dir, settings=settings, env=env,
                   python_prefixes=python_prefixes, scratch=scratch)  # fmt: skip
    return Sandbox.on_host(bwrap, read_only=shown, writable=[folder.resolve()])


def _shown(
    extra: Sequence[Path],
    run_dir: Path,
    *,
    settings: Settings,
    env: Mapping[str, str],
    python_prefixes: Sequence[Path],
    scratch: Path,
) -> list[Path]:
    """The read-only folders a sandbox shows besides the system's (the module docstring)."""
    # No shown folder may lie in these; none may hold them (or be one).
    secret = [settings.home.resolve(), run_dir.resolve(), scratch]
    home = env.get("HOME")
    above = [*secret, Path(home).resolve()] if home else secret
    tools = settings.tools_dir.resolve()
    shown: list[Path] = [*extra, *python_prefixes]
    if tools.is_dir():
        shown += [tools, *link_roots(tools)]
    shown += [p for p in _path_entries(env.get("PATH", "")) if _may_show(p, secret, above, tools)]
    resolv = Path("/etc/resolv.conf")
    if resolv.is_symlink():  # e.g. into /run, which is not shown otherwise
        shown.append(resolv.resolve())
    return [p for p in shown if p.exists() and not _system(p)]


def link_roots(folder: Path) -> list[Path]:
    """What the links in ``folder`` need: for a link into a ``node_modules``, the folder
    holding that ``node_modules`` (the package and its dependencies); else its target."""
    roots: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_symlink():
            continue
        target = entry.resolve()
        parts = target.parts
        if "node_modules" in parts:
            target = Path(*parts[: parts.index("node_modules")])
        if target not in roots:
            roots.append(target)
    return roots


def _path_entries(search_path: str) -> Iterable[Path]:
    for entry in search_path.split(":"):
        if entry.startswith("/"):
            path = Path(entry).resolve()
            if path.is_dir():
                yield path


def _may_show(path: Path, secret: Sequence[Path], above: Sequence[Path], tools: Path) -> bool:
    """A PATH folder is shown unless it lies in a ``secret`` place or holds (or is) one of
    ``above`` (a folder inside the user's home is fine; the home itself is not)."""
    if path.is_relative_to(tools):
        return True
    if any(path.is_relative_to(s) for s in secret):
        return False
    return not any(s.is_relative_to(path) for s in above)


def _system(path: Path) -> bool:
    return any(path.is_relative_to(root) for root in system_roots())


@cache
def system_roots() -> tuple[Path, ...]:
    """The ``SYSTEM_PATHS`` that are folders here (a sandbox shows them anyway), looked up
    once per process: the fork server asks before forking (``factoryos.launch.preload``),
    so its runners do not stat them again for every path they show."""
    return tuple(Path(p) for p in SYSTEM_PATHS if Path(p).is_dir())
