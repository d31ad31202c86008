"""The environment a Kilroy process gets (pure).

``Kilroy`` builds it for every invocation from the caller's environment:

- provider API keys are removed, so Kilroy's provider auto-detection never
  turns a developer's ``OPENAI_API_KEY`` into a paid call; a run that needs a
  real provider passes its key explicitly (``RunSpec.extra_env``);
- the factory's own secrets (``FACTORYOS_DASHBOARD_TOKEN``, ``FACTORYOS_INGEST_KEY``)
  are removed;
- ``KILROY_{CODEX,CLAUDE,GEMINI}_PATH`` are removed (Kilroy's ``real`` profile
  refuses to run with them set), and so are per-stage variables and inputs
  inherited from an enclosing run;
- ``XDG_STATE_HOME`` points inside ``FACTORYOS_HOME``, so Kilroy's state (its
  run registry, codex homes) stays there;
- ``FACTORYOS_LOGS_ROOT`` tags every process of the run (see ``procs``);
- inputs become ``KILROY_INPUT_<KEY>`` and ``FACTORYOS_INPUT_<KEY>``. Kilroy
  v0.1.0 has no ``--input``; its tool nodes and agent CLIs inherit Kilroy's
  environment minus a fixed list of ``KILROY_*`` stage variables, so both names
  reach them unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from factoryos.kilroy.procs import MARKER_ENV
from factoryos.kilroy.runspec import input_env_names

__all__ = ["PROVIDER_KEY_VARS", "agent_search_path", "kilroy_env"]

#: API-key variables Kilroy v0.1.0 auto-detects providers from (plus Google's alias).
PROVIDER_KEY_VARS = frozenset(
    {
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "KIMI_API_KEY",
        "ZAI_API_KEY",
        "CEREBRAS_API_KEY",
        "MINIMAX_API_KEY",
        "INCEPTION_API_KEY",
    }
)

#: Inherited variables that would confuse Kilroy or the stages it runs.
_DROPPED = frozenset(
    {
        "KILROY_CODEX_PATH",
        "KILROY_CLAUDE_PATH",
        "KILROY_GEMINI_PATH",
        "KILROY_RUN_ID",
        "KILROY_NODE_ID",
        "KILROY_LOGS_ROOT",
        "KILROY_STAGE_LOGS_DIR",
        "KILROY_WORKTREE_DIR",
        "KILROY_INPUTS_MANIFEST_PATH",
        "KILROY_STAGE_STATUS_PATH",
        "KILROY_STAGE_STATUS_FALLBACK_PATH",
        "CLAUDECODE",
        MARKER_ENV,
        # The factory's own secrets: a candidate never needs them.
        "FACTORYOS_DASHBOARD_TOKEN",
        "FACTORYOS_INGEST_KEY",
    }
)
_DROPPED_PREFIXES = ("KILROY_INPUT_", "FACTORYOS_INPUT_")


def kilroy_env(
    base: Mapping[str, str],
    *,
    state_dir: Path,
    logs_root: Path | None,
    inputs: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    tools_dir: Path | None = None,
) -> dict[str, str]:
    """The environment for one Kilroy invocation on ``logs_root``; ``tools_dir`` (where
    ``make tools`` put the pinned agent CLIs) goes first on PATH, where Kilroy looks
    for ``codex``, ``claude`` and ``gemini``.

    ``logs_root`` is None for commands that are not part of a run (validate, status,
    stop): they must not carry the run's process marker.
    """
    env = {
        key: value
        for key, value in base.items()
        if key not in PROVIDER_KEY_VARS
        and key not in _DROPPED
        and not key.startswith(_DROPPED_PREFIXES)
    }
    env["XDG_STATE_HOME"] = str(state_dir)
    if tools_dir is not None:
        env["PATH"] = agent_search_path(tools_dir, env.get("PATH", ""))
    if logs_root is not None:
        env[MARKER_ENV] = str(logs_root)
    for key, value in (inputs or {}).items():
        for name in input_env_names(key):
            env[name] = value
    env.update(extra or {})
    return env


def agent_search_path(tools_dir: Path, path: str) -> str:
    """``path`` with ``tools_dir`` first (once)."""
    parts = [str(tools_dir), *(p for p in path.split(os.pathsep) if p and p != str(tools_dir))]
    return os.pathsep.join(parts)
