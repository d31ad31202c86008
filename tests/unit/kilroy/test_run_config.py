"""The run config Kilroy v0.1.0's strict decoder gets, and the pinned catalog it points at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.kilroy.config import build_run_config, pinned_catalog_text, write_run_config

#: Top-level keys Kilroy v0.1.0's RunConfigFile accepts (config.go).
KNOWN_KEYS = {
    "version",
    "graph",
    "task",
    "repo",
    "cxdb",
    "llm",
    "modeldb",
    "git",
    "artifact_policy",
    "setup",
    "runtime_policy",
    "preflight",
    "inputs",
}


def test_the_default_config_is_minimal_pinned_and_has_no_cxdb(tmp_path: Path) -> None:
    config = build_run_config(workspace=tmp_path / "ws", catalog=tmp_path / "cat.json")
    assert config == {
        "version": 1,
        "repo": {"path": str(tmp_path / "ws")},
        "modeldb": {
            "openrouter_model_info_path": str(tmp_path / "cat.json"),
            "openrouter_model_info_update_policy": "pinned",
        },
    }


def test_test_shim_profile_and_runtime_options(tmp_path: Path) -> None:
    config = build_run_config(
        workspace=tmp_path,
        catalog=tmp_path / "c.json",
        agent_profile="test_shim",
        agent_executable=Path("/abs/agent"),
        stage_timeout_ms=1500,
        branch_prefix="factory/r1",
    )
    assert set(config) <= KNOWN_KEYS
    assert config["llm"] == {
        "cli_profile": "test_shim",
        "providers": {"openai": {"backend": "cli", "executable": "/abs/agent"}},
    }
    assert config["preflight"] == {"prompt_probes": {"enabled": False}}
    assert config["runtime_policy"] == {"stage_timeout_ms": 1500}
    assert config["git"] == {"run_branch_prefix": "factory/r1"}


def test_test_shim_without_executable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="executable"):
        build_run_config(workspace=tmp_path, catalog=tmp_path, agent_profile="test_shim")


def test_the_shipped_catalog_is_a_non_empty_openrouter_list() -> None:
    data = json.loads(pinned_catalog_text())["data"]
    assert data and all("/" in entry["id"] for entry in data)


def test_write_puts_the_catalog_copy_next_to_the_config(tmp_path: Path) -> None:
    path = write_run_config(tmp_path, workspace=tmp_path / "ws")
    config = json.loads(path.read_text())
    catalog = Path(config["modeldb"]["openrouter_model_info_path"])
    assert catalog.parent == tmp_path
    assert catalog.read_text() == pinned_catalog_text()
