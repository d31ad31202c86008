"""``RunSpec``: what one Kilroy run needs, checked before anything is started.

Built by the CLI or the runner and handed to ``Kilroy.start``. Validation here
is pure (names and shapes); the file system is checked when the run starts.
Neither record is a dataclass: they are made on ``sf pipeline run``'s way to
Kilroy's start, where ``dataclasses`` alone costs 9 ms (docs/decisions.md, issue
19 part 2). ``CxdbEndpoint`` is a ``NamedTuple``; ``RunSpec``, which checks its
fields when made, is a class with slots whose instances are not changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

from factoryos.errors import InvalidInputError
from factoryos.kilroy.layout import LOGS_DIR

if TYPE_CHECKING:
    from factoryos.models.agents import AgentChoice

__all__ = [
    "AGENT_PROFILES",
    "CxdbEndpoint",
    "RunSpec",
    "check_input_key",
    "check_run_id",
    "input_env_names",
]

AGENT_PROFILES = ("real", "test_shim")

# A git ref component and a CloudEvents source segment at once: starts and ends
# alphanumeric, no "..", no ".lock" suffix.
_RUN_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
_INPUT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_BRANCH_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
#: ``RunSpec``'s fields, in the order of its parameters.
_RUN_SPEC_FIELDS = (
    "graph",
    "workspace",
    "run_id",
    "run_dir",
    "inputs",
    "agent_profile",
    "agent_executable",
    "stage_timeout",
    "branch_prefix",
    "extra_env",
    "cxdb",
    "agent",
)


class CxdbEndpoint(NamedTuple):
    """A CXDB server Kilroy logs the run's turns to (off unless configured)."""

    #: CXDB's HTTP API, e.g. http://cxdb:9010.
    http_base_url: str
    #: CXDB's binary protocol address, e.g. cxdb:9009.
    binary_addr: str
    #: Where people browse it (the dashboard links runs there), e.g. http://cxdb.local.
    ui_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> CxdbEndpoint | None:
        """FACTORYOS_CXDB_HTTP_URL + FACTORYOS_CXDB_BINARY_ADDR (+ _UI_URL), or None."""
        http, binary = env.get("FACTORYOS_CXDB_HTTP_URL"), env.get("FACTORYOS_CXDB_BINARY_ADDR")
        if not http or not binary:
            return None
        return cls(http, binary, env.get("FACTORYOS_CXDB_UI_URL") or None)


class RunSpec:
    """One Kilroy run: a pipeline, the repository it works on, and where its files go.

    Its fields are checked when it is made, and never changed after (``Final``).
    """

    __slots__ = _RUN_SPEC_FIELDS

    def __init__(
        self,
        graph: Path,
        workspace: Path,
        run_id: str,
        run_dir: Path,
        inputs: Mapping[str, str] | None = None,
        agent_profile: str = "real",
        agent_executable: Path | None = None,
        stage_timeout: float | None = None,
        branch_prefix: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        cxdb: CxdbEndpoint | None = None,
        agent: AgentChoice | None = None,
    ) -> None:
        #: The pipeline (Attractor DOT file).
        self.graph: Final = graph
        #: The git repository the run works on (Kilroy uses a branch and a worktree of it).
        self.workspace: Final = workspace
        #: Used for the branch name (``<prefix>/<run_id>``) and in event sources.
        self.run_id: Final = check_run_id(run_id)
        #: The run directory; Kilroy's logs_root is ``run_dir / "logs"``.
        self.run_dir: Final = run_dir
        #: Reach tool nodes and agent CLIs as ``KILROY_INPUT_<KEY>`` and
        #: ``FACTORYOS_INPUT_<KEY>``.
        self.inputs: Final = {check_input_key(k): v for k, v in (inputs or {}).items()}
        #: ``real`` (agent nodes run the real codex/claude/gemini CLIs) or ``test_shim``.
        self.agent_profile: Final = agent_profile
        #: The stand-in agent CLI for ``test_shim`` (speaks ``codex exec --json``).
        self.agent_executable: Final = agent_executable
        #: Seconds one stage may run (Kilroy's runtime_policy.stage_timeout_ms); None: no
        #: limit.
        self.stage_timeout: Final = stage_timeout
        #: Branch prefix (default Kilroy's ``attractor/run``).
        self.branch_prefix: Final = branch_prefix
        #: Extra environment for Kilroy, e.g. a provider API key a real agent needs; never
        #: persisted, and left out of the repr.
        self.extra_env: Final[dict[str, str]] = dict(extra_env or {})
        #: Log the run to this CXDB too (None: ``--no-cxdb``).
        self.cxdb: Final = cxdb
        #: The agent choice (real profile): providers and backends go into the run config.
        #: None leaves provider choice to Kilroy's auto-detection (``sf pipeline run``).
        self.agent: Final = agent
        if agent_profile not in AGENT_PROFILES:
            raise InvalidInputError(
                f"agent profile {agent_profile!r}: expected one of {', '.join(AGENT_PROFILES)}"
            )
        if agent_profile == "test_shim" and agent_executable is None:
            raise InvalidInputError("the test_shim agent profile needs an agent executable")
        if stage_timeout is not None and stage_timeout <= 0:
            raise InvalidInputError(f"stage timeout must be positive, got {stage_timeout}")
        if branch_prefix is not None and not _BRANCH_PREFIX.fullmatch(branch_prefix):
            raise InvalidInputError(f"branch prefix {branch_prefix!r} is not ref-safe")

    def __repr__(self) -> str:
        shown = (f"{k}={getattr(self, k)!r}" for k in _RUN_SPEC_FIELDS if k != "extra_env")
        return f"RunSpec({', '.join(shown)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunSpec):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in _RUN_SPEC_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # compared by value, and it holds dicts

    @property
    def logs_root(self) -> Path:
        return self.run_dir / LOGS_DIR


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is safe as a git ref component and a path segment."""
    if not _RUN_ID.match(run_id) or ".." in run_id or run_id.endswith(".lock"):
        raise InvalidInputError(
            f"run id {run_id!r} is not allowed: use 1-100 of A-Z a-z 0-9 . _ -, "
            "starting and ending with a letter or digit, without '..'"
        )
    return run_id


def check_input_key(key: str) -> str:
    if not _INPUT_KEY.match(key):
        raise InvalidInputError(f"input name {key!r}: use letters, digits, '_' and '.'")
    return key


def input_env_names(key: str) -> tuple[str, str]:
    """The environment variable names an input reaches nodes under."""
    suffix = re.sub(r"[^A-Z0-9_]", "_", key.upper())
    return f"KILROY_INPUT_{suffix}", f"FACTORYOS_INPUT_{suffix}"
