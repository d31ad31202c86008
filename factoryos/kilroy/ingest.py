"""Turning a requirements document into a pipeline: Kilroy's ``attractor ingest``.

``sf pipeline ingest`` calls :func:`ingest`. Kilroy v0.1.0's ingest
(``cmd/kilroy/ingest.go``, ``internal/attractor/ingest/ingest.go``) runs the real
``claude`` CLI in a temporary directory of its own::

    claude --model M --max-turns N --dangerously-skip-permissions [--add-dir REPO]
           [--append-system-prompt <the skill file's text>] <prompt with the requirements>

with Kilroy's environment, stdin and stdout unchanged (claude prints only its final
message when stdout is not a terminal), and reads the pipeline back from the file
``pipeline.dot`` claude wrote there (a ```dot block in the answer is not enough).
Kilroy exits 1 with one line on stderr when claude fails or writes no file. It
refuses a skill it cannot find (it looks in ``REPO/skills/create-dotfile/SKILL.md``,
beside its binary and in the Go module cache), and a requirements argument that
starts with ``-`` (taken as an unknown flag).

What Factory OS adds (the pure parts are :func:`ingest_env`, :func:`ingest_argv`,
:func:`find_skill`, :func:`native_model`):

- claude gets a HOME of its own (a temporary directory, removed afterwards) and
  ``agent_home.cli_env``'s variables (no updates, telemetry or error reports,
  ``IS_SANDBOX`` as root, the gateway as ``ANTHROPIC_BASE_URL``), ``.tools/bin``
  first on PATH. Unlike a run, ingest does not strip ``ANTHROPIC_API_KEY`` from
  claude's environment, so the key goes under that name (the ``x-api-key`` header
  Anthropic's API takes), read from the variable the user names;
- the skill is found the way Kilroy looks for it, but from the user's HOME, and
  passed explicitly (Kilroy's own search would look in the isolated HOME);
- the catalog's model names become claude's (``claude-sonnet-4.5`` ->
  ``claude-sonnet-4-5``), as Kilroy does for its runs but not for ingest;
- Kilroy runs with ``--no-validate`` so the file is always written, and then
  ``Kilroy.validate`` (the batch validator ``sf pipeline validate`` uses) judges it,
  so a refusal comes back as findings with their node or edge, not one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from factoryos.errors import (
    ConfigurationError,
    EngineError,
    InvalidInputError,
    ToolMissingError,
    WorkspaceError,
)
from factoryos.kilroy.adapter import Kilroy
from factoryos.kilroy.agent_home import cli_env
from factoryos.kilroy.environment import kilroy_env
from factoryos.kilroy.validation import FileValidation
from factoryos.models.agents import KEY_ENV, KNOWN_MODELS, AgentChoice, Provider

__all__ = [
    "DEFAULT_MODEL",
    "IngestRequest",
    "IngestResult",
    "find_skill",
    "ingest",
    "ingest_argv",
    "ingest_env",
    "native_model",
    "skill_candidates",
]

#: The catalog's Anthropic model (claude is the only CLI Kilroy's ingest runs).
DEFAULT_MODEL = KNOWN_MODELS[Provider.ANTHROPIC][0]
#: Kilroy's own limit on one ingest (cmd/kilroy/ingest.go).
DEFAULT_TIMEOUT_SECONDS = 15 * 60.0
#: One argv string may be at most 128 KiB on Linux; the prompt around it needs some.
MAX_REQUIREMENTS_BYTES = 120_000
SKILL_RELATIVE = Path("skills") / "create-dotfile" / "SKILL.md"
KILROY_MODULE = "github.com/danshapiro/kilroy@v0.1.0"
CLAUDE_HINT = (
    "run `make tools` (it installs the pinned claude CLI into .tools/bin; it needs Node.js >= 20)"
)
#: Variables of the caller's that would point claude at the user's own settings or
#: account instead of the isolated HOME and the chosen key.
_CALLER_ONLY = ("CLAUDE_CONFIG_DIR", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "HOME", "TMPDIR")

_VERSION_DOT = re.compile(r"(\d)\.(\d)")


@dataclass(frozen=True)
class IngestRequest:
    """One ingest: the requirements text and where the pipeline goes."""

    requirements: str
    output: Path
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    credential_env: str = KEY_ENV[Provider.ANTHROPIC]
    repo: Path | None = None
    skill: Path | None = None
    max_turns: int | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class IngestResult:
    """The written pipeline and the validator's verdict on it."""

    output: Path
    validation: FileValidation
    agent_output: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.validation.ok

    def to_dict(self) -> dict[str, object]:
        return {
            "output": str(self.output),
            "ok": self.ok,
            "validation": self.validation.to_dict(),
            "notes": list(self.notes),
        }


def native_model(model: str) -> str:
    """claude's name for a catalog model (Kilroy's ``NativeModelID`` for anthropic)."""
    return _VERSION_DOT.sub(r"\1-\2", model.removeprefix("anthropic/"))


def skill_candidates(repo: Path, env: Mapping[str, str]) -> list[Path]:
    """Where Kilroy v0.1.0 looks for the ingest skill, in order, as seen from ``env``."""
    found = [repo / SKILL_RELATIVE]
    roots: list[Path] = []
    if env.get("GOMODCACHE"):
        roots.append(Path(env["GOMODCACHE"]))
    gopath = env.get("GOPATH", "").split(os.pathsep)[0]
    if gopath:
        roots.append(Path(gopath) / "pkg" / "mod")
    if env.get("HOME"):
        roots.append(Path(env["HOME"]) / "go" / "pkg" / "mod")
    found += [root / KILROY_MODULE / SKILL_RELATIVE for root in roots]
    return list(dict.fromkeys(found))


def find_skill(repo: Path, env: Mapping[str, str], binary: Path | None = None) -> Path:
    """The first skill file that exists; ``InvalidInputError`` lists where it looked."""
    candidates = skill_candidates(repo, env)
    if binary is not None:
        exe = binary.resolve()
        candidates[1:1] = [exe.parent / SKILL_RELATIVE, exe.parent.parent / SKILL_RELATIVE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InvalidInputError(
        "Kilroy's ingest skill (skills/create-dotfile/SKILL.md) was not found (looked in: "
        + ", ".join(map(str, candidates))
        + "); pass --skill PATH, e.g. from a checkout of Kilroy v0.1.0"
    )


def ingest_argv(kilroy: Path, request: IngestRequest, skill: Path, output: Path) -> list[str]:
    """Kilroy's command line; the requirements go last, as one argument."""
    argv = [str(kilroy), "attractor", "ingest", "--output", str(output)]
    argv += ["--model", native_model(request.model), "--skill", str(skill), "--no-validate"]
    if request.repo is not None:
        argv += ["--repo", str(request.repo.absolute())]
    if request.max_turns is not None:
        argv += ["--max-turns", str(request.max_turns)]
    text = request.requirements.strip()
    # Kilroy takes any argument starting with "-" as a flag (and refuses it).
    return [*argv, "\n" + text if text.startswith("-") else text]


def ingest_env(
    base: Mapping[str, str],
    request: IngestRequest,
    *,
    home: Path,
    state_dir: Path,
    tools_dir: Path,
    root: bool,
) -> dict[str, str]:
    """Kilroy's (and so claude's) environment; ``ConfigurationError`` without a key."""
    key = base.get(request.credential_env, "")
    if not key:
        raise ConfigurationError(
            f"{request.credential_env} is not set: export the Anthropic API key there (or name "
            "the variable that holds it with --credential-env); ingest runs the claude CLI"
        )
    choice = AgentChoice(provider=Provider.ANTHROPIC, model=None, base_url=request.base_url)
    extra = cli_env(choice, {KEY_ENV[Provider.ANTHROPIC]: key}, root=root)
    extra.pop("ANTHROPIC_AUTH_TOKEN", None)
    extra |= {
        KEY_ENV[Provider.ANTHROPIC]: key,
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
    }
    caller = {k: v for k, v in base.items() if k not in _CALLER_ONLY}
    return kilroy_env(caller, state_dir=state_dir, logs_root=None, extra=extra, tools_dir=tools_dir)


def ingest(
    kilroy: Kilroy,
    request: IngestRequest,
    env: Mapping[str, str],
    progress: Callable[[str], None] = lambda _: None,
) -> IngestResult:
    """Run Kilroy's ingest, write ``request.output``, validate it with Kilroy."""
    settings = kilroy.settings
    env_path = env.get("PATH", "")
    claude = shutil.which("claude", path=f"{settings.tools_dir}{os.pathsep}{env_path}")
    if claude is None:
        raise ToolMissingError(f"the claude CLI was not found in {settings.tools_dir} or on PATH; "
                               f"{CLAUDE_HINT}")  # fmt: skip
    if len(request.requirements.encode()) > MAX_REQUIREMENTS_BYTES:
        raise InvalidInputError(
            f"the requirements are {len(request.requirements.encode())} bytes; Kilroy passes "
            f"them to claude as one argument, at most {MAX_REQUIREMENTS_BYTES}"
        )
    if not request.requirements.strip():
        raise InvalidInputError("the requirements are empty")
    repo = (request.repo or Path.cwd()).absolute()
    skill = request.skill or find_skill(repo, env, kilroy.binary.path)
    if not skill.is_file():
        raise InvalidInputError(f"--skill {skill}: no such file")
    output = request.output.absolute()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        settings.kilroy_state_dir.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="factoryos-ingest-"))
    except OSError as exc:
        raise WorkspaceError(f"cannot prepare the ingest: {exc}") from exc
    try:
        (home / "tmp").mkdir()
        run_env = ingest_env(env, request, home=home, state_dir=settings.kilroy_state_dir,
                             tools_dir=settings.tools_dir, root=os.geteuid() == 0)  # fmt: skip
        argv = ingest_argv(kilroy.binary.path, request, skill, output)
        progress(f"ingest: claude ({native_model(request.model)}) is writing the pipeline "
                 f"(skill {skill})")  # fmt: skip
        stdout, stderr, code = _run(argv, run_env, home, request.timeout_seconds)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if code != 0 or not output.is_file():
        raise EngineError(_failure(code, stdout, stderr))
    progress(f"ingest: wrote {output}; validating it with Kilroy")
    (validation,) = kilroy.validate([output])
    return IngestResult(output=output, validation=validation, agent_output=stdout.strip())


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[str, str, int]:
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # fmt: skip
    except OSError as exc:
        raise EngineError(f"cannot run {argv[0]}: {exc}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as exc:  # a timeout or Ctrl-C: stop Kilroy and claude with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise EngineError(
                f"kilroy attractor ingest did not finish within {timeout:.0f}s (is the model "
                "endpoint reachable and the key valid? claude retries quietly)"
            ) from exc
        raise
    return stdout, stderr, proc.returncode


def _failure(code: int, stdout: str, stderr: str) -> str:
    """Kilroy's line and claude's own (claude prints provider errors on stdout)."""
    parts = [f"kilroy attractor ingest failed (exit {code})"]
    for name, text in (("kilroy", stderr), ("claude", stdout)):
        tail = "\n".join(text.strip().splitlines()[-10:])
        if tail:
            parts.append(f"{name}: {tail}")
    return "\n".join(parts)
