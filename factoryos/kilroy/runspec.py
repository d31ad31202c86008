"""``RunSpec``: what one Kilroy run needs, checked before anything is started.

Built by the CLI or the runner and handed to ``Kilroy.start``. Validation here
is pure (names and shapes); the file system is checked when the run starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class CxdbEndpoint:
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


@dataclass(frozen=True)
class RunSpec:
    """One Kilroy run: a pipeline, the repository it works on, and where its files go."""

    #: The pipeline (Attractor DOT file).
    graph: Path
    #: The git repository the run works on (Kilroy uses a branch and a worktree of it).
    workspace: Path
    #: Used for the branch name (``<prefix>/<run_id>``) and in event sources.
    run_id: str
    #: The run directory; Kilroy's logs_root is ``run_dir / "logs"``.
    run_dir: Path
    #: Reach tool nodes and agent CLIs as ``KILROY_INPUT_<KEY>`` and ``FACTORYOS_INPUT_<KEY>``.
    inputs: dict[str, str] = field(default_factory=dict)
    #: ``real`` (agent nodes run the real codex/claude/gemini CLIs) or ``test_shim``.
    agent_profile: str = "real"
    #: The stand-in agent CLI for ``test_shim`` (speaks ``codex exec --json``).
    agent_executable: Path | None = None
    #: Seconds one stage may run (Kilroy's runtime_policy.stage_timeout_ms); None = no limit.
    stage_timeout: float | None = None
    #: Branch prefix (default Kilroy's ``attractor/run``).
    branch_prefix: str | None = None
    #: Extra environment for Kilroy, e.g. a provider API key a real agent needs; never persisted.
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Log the run to this CXDB too (None: ``--no-cxdb``).
    cxdb: CxdbEndpoint | None = None
    #: The agent choice (real profile): providers and backends go into the run config.
    #: None leaves provider choice to Kilroy's auto-detection (``sf pipeline run``).
    agent: AgentChoice | None = None

    def __post_init__(self) -> None:
        check_run_id(self.run_id)
        for key in self.inputs:
            check_input_key(key)
        if self.agent_profile not in AGENT_PROFILES:
            raise InvalidInputError(
                f"agent profile {self.agent_profile!r}: expected one of {', '.join(AGENT_PROFILES)}"
            )
        if self.agent_profile == "test_shim" and self.agent_executable is None:
            raise InvalidInputError("the test_shim agent profile needs an agent executable")
        if self.stage_timeout is not None and self.stage_timeout <= 0:
            raise InvalidInputError(f"stage timeout must be positive, got {self.stage_timeout}")
        if self.branch_prefix is not None and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9._/-]*", self.branch_prefix
        ):
            raise InvalidInputError(f"branch prefix {self.branch_prefix!r} is not ref-safe")

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
