"""RunSpec checks names before anything starts; the environment Kilroy gets is controlled."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError
from factoryos.kilroy import RunSpec
from factoryos.kilroy.environment import kilroy_env
from factoryos.kilroy.runspec import input_env_names


def spec(**overrides: object) -> RunSpec:
    values: dict[str, object] = {
        "graph": Path("p.dot"),
        "workspace": Path("ws"),
        "run_id": "run-1",
        "run_dir": Path("r"),
    }
    values.update(overrides)
    return RunSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("run_id", ["a", "run-1", "Run_2.x", "c0"])
def test_ref_safe_run_ids_are_accepted(run_id: str) -> None:
    assert spec(run_id=run_id).logs_root == Path("r/logs")


@pytest.mark.parametrize(
    "run_id", ["", "-x", "x-", "a..b", "a/b", "a b", "x.lock", "ünï", ".hidden", "a" * 101]
)
def test_unsafe_run_ids_are_refused(run_id: str) -> None:
    with pytest.raises(InvalidInputError, match="run id"):
        spec(run_id=run_id)


def test_profile_inputs_and_timeouts_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="agent profile"):
        spec(agent_profile="fake")
    with pytest.raises(InvalidInputError, match="agent executable"):
        spec(agent_profile="test_shim")
    with pytest.raises(InvalidInputError, match="input name"):
        spec(inputs={"bad-key": "x"})
    with pytest.raises(InvalidInputError, match="timeout"):
        spec(stage_timeout=0)


def test_inputs_reach_nodes_under_both_names() -> None:
    assert input_env_names("target.path") == (
        "KILROY_INPUT_TARGET_PATH",
        "FACTORYOS_INPUT_TARGET_PATH",
    )


def test_kilroy_env_drops_api_keys_and_stale_run_variables() -> None:
    base = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "OPENAI_API_KEY": "sk",
        "GOOGLE_API_KEY": "g",
        "KILROY_CODEX_PATH": "/x",
        "KILROY_INPUT_OLD": "1",
        "KILROY_NODE_ID": "n",
        "KILROY_CODEX_TOTAL_TIMEOUT": "5m",
    }
    env = kilroy_env(
        base,
        state_dir=Path("/state"),
        logs_root=Path("/runs/r/logs"),
        inputs={"greeting": "hi"},
        extra={"ANTHROPIC_API_KEY": "explicit"},
    )
    assert env == {
        "PATH": "/bin",
        "HOME": "/home/u",
        "KILROY_CODEX_TOTAL_TIMEOUT": "5m",
        "XDG_STATE_HOME": "/state",
        "FACTORYOS_LOGS_ROOT": "/runs/r/logs",
        "KILROY_INPUT_GREETING": "hi",
        "FACTORYOS_INPUT_GREETING": "hi",
        "ANTHROPIC_API_KEY": "explicit",
    }
    assert "FACTORYOS_LOGS_ROOT" not in kilroy_env(base, state_dir=Path("/s"), logs_root=None)


def test_specs_are_equal_by_value_and_keep_copies_of_what_they_were_given() -> None:
    inputs = {"target": "x"}
    one = spec(inputs=inputs)
    inputs["target"] = "changed later"
    assert one.inputs == {"target": "x"}
    assert one == spec(inputs={"target": "x"})
    assert one != spec(inputs={"target": "y"})
    assert one != spec(run_id="run-2")
