"""The run config Factory OS hands to ``kilroy attractor run --config``.

``build_run_config`` is pure: it returns the JSON document for Kilroy
v0.1.0's strict decoder (``internal/attractor/engine/config.go``: unknown keys
are an error, ``version`` must be 1, ``repo.path`` is required).
``write_run_config`` puts it, and a copy of the pinned model catalog, into the
run directory. ``Kilroy.start`` is the caller.

What we always set, and why:

- ``modeldb`` points at a catalog copy in the run directory with
  ``update_policy: pinned``: no network at start, and Kilroy snapshots it into
  ``logs_root/modeldb/``, which ``attractor resume`` requires (a run started
  without it cannot be resumed).
- no ``cxdb`` section (and ``--no-cxdb`` on the command line), unless the run
  names a CXDB server (``RunSpec.cxdb``): then its two addresses.
- for the ``real`` profile of a factory run: ``llm`` with an explicit backend for every
  provider the product's agent choice uses (``agents.llm_config``);
- for the ``test_shim`` agent profile: ``llm.cli_profile: test_shim`` and
  ``llm.providers.openai = {backend: cli, executable: <abs path>}``, with prompt
  probes off; Kilroy then runs that executable where it would run ``codex``
  (``--allow-test-shim`` must be passed too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from factoryos.errors import WorkspaceError
from factoryos.kilroy.layout import CATALOG_FILE, CONFIG_FILE

__all__ = [
    "AgentProfile",
    "build_run_config",
    "pinned_catalog_text",
    "write_run_config",
]

AgentProfile = Literal["real", "test_shim"]


#: The provider whose CLI contract (``codex exec --json ...``) the test shim speaks.
SHIM_PROVIDER = "openai"


def pinned_catalog_text() -> str:
    """The minimal OpenRouter-format model catalog shipped with Factory OS.

    Read beside this module, not through ``importlib.resources`` (with ``tempfile``,
    ``zipfile`` and ``shutil``, 5-10 ms of imports before every Kilroy start): Factory OS
    is installed as files (an editable checkout, a wheel unpacked), never run from a zip.
    """
    return (Path(__file__).parent / "data" / "openrouter_models.json").read_text(encoding="utf-8")


def build_run_config(
    *,
    workspace: Path,
    catalog: Path,
    agent_profile: AgentProfile = "real",
    agent_executable: Path | None = None,
    stage_timeout_ms: int | None = None,
    branch_prefix: str | None = None,
    cxdb: tuple[str, str] | None = None,
    llm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run config document for one Kilroy run (paths must be absolute); ``llm`` is the
    real profile's providers section (``agents.llm_config``; None: Kilroy auto-detects)."""
    config: dict[str, Any] = {
        "version": 1,
        "repo": {"path": str(workspace)},
        "modeldb": {
            "openrouter_model_info_path": str(catalog),
            "openrouter_model_info_update_policy": "pinned",
        },
    }
    if branch_prefix:
        config["git"] = {"run_branch_prefix": branch_prefix}
    if agent_profile == "test_shim":
        if agent_executable is None:
            raise ValueError("the test_shim agent profile needs an agent executable")
        config["llm"] = {
            "cli_profile": "test_shim",
            "providers": {SHIM_PROVIDER: {"backend": "cli", "executable": str(agent_executable)}},
        }
        config["preflight"] = {"prompt_probes": {"enabled": False}}
    elif llm is not None:
        config["llm"] = llm
        # Factory OS checks the agent before the run (agent_clis.preflight); Kilroy's own
        # prompt probe would spend a paid call per provider on every run and resume.
        config["preflight"] = {"prompt_probes": {"enabled": False}}
    if stage_timeout_ms is not None:
        config["runtime_policy"] = {"stage_timeout_ms": stage_timeout_ms}
    if cxdb is not None:
        http_base_url, binary_addr = cxdb
        config["cxdb"] = {"http_base_url": http_base_url, "binary_addr": binary_addr}
    return config


def write_run_config(run_dir: Path, **options: Any) -> Path:
    """Write the catalog copy and the run config into ``run_dir``; return the config path.

    ``options`` are ``build_run_config``'s keyword arguments except ``catalog``.
    """
    catalog = run_dir / CATALOG_FILE
    path = run_dir / CONFIG_FILE
    try:
        catalog.write_text(pinned_catalog_text(), encoding="utf-8")
        document = build_run_config(catalog=catalog, **options)
        _write_atomic(path, json.dumps(document, indent=2) + "\n")
    except OSError as exc:
        raise WorkspaceError(f"cannot write the run config in {run_dir}: {exc.strerror}") from exc
    return path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
