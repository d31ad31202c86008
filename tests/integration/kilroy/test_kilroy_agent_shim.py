"""An agent node runs through the scripted stand-in for codex: no network, no LLM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kilroy_support import EXAMPLES, SCRIPTED_AGENT, git

from factoryos.kilroy import Kilroy, KilroyProcess, LogsRoot, RunSpec

pytestmark = pytest.mark.integration


def test_the_agent_change_is_committed_on_the_run_branch(kilroy: Kilroy, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    spec = RunSpec(
        graph=EXAMPLES / "test-shim-agent.dot",
        workspace=workspace,
        run_id="agent-1",
        run_dir=kilroy.settings.runs_dir / "agent-1",
        agent_profile="test_shim",
        agent_executable=SCRIPTED_AGENT,
    )
    outcome = kilroy.start(spec).outcome(timeout=60)
    assert outcome.status == "success", outcome
    branch = "attractor/run/agent-1"
    assert git(workspace, "show", f"{branch}:hello.txt") == "hello from the scripted agent\n"
    implement = git(workspace, "log", "--format=%H %s", branch).splitlines()
    (commit,) = [line.split()[0] for line in implement if "implement (success)" in line]
    assert git(workspace, "show", "--name-only", "--format=", commit).split() == ["hello.txt"]

    root = LogsRoot(spec.logs_root)
    assert (root.node_status("implement") or {}).get("status") == "success"
    invocation = json.loads((spec.logs_root / "implement" / "cli_invocation.json").read_text())
    assert invocation["executable"] == str(SCRIPTED_AGENT)
    assert invocation["argv"][:2] == ["exec", "--json"]
    names = {a.name for a in root.node_artifacts("implement")}
    assert {"prompt.md", "output.json", "stdout.log", "status.json"} <= names


def test_an_agent_that_reports_failure_fails_the_run_at_its_node(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    graph = tmp_path / "agent-fails.dot"
    graph.write_text(
        (EXAMPLES / "test-shim-agent.dot")
        .read_text()
        .replace("@write hello.txt hello from the scripted agent", "@fail cannot do this")
    )
    spec = RunSpec(
        graph=graph,
        workspace=tmp_path / "ws",
        run_id="agent-2",
        run_dir=kilroy.settings.runs_dir / "agent-2",
        agent_profile="test_shim",
        agent_executable=SCRIPTED_AGENT,
    )
    outcome = kilroy.start(spec).outcome(timeout=60)
    assert outcome.status == "fail"
    assert outcome.failed_node == "implement"
    assert outcome.failure_reason == "cannot do this"


def wait_for(path: Path, process: KilroyProcess) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, f"no {path.name}"
        time.sleep(0.02)


def test_a_resumed_test_shim_run_still_uses_the_stand_in_agent(
    kilroy: Kilroy, tmp_path: Path
) -> None:
    for n in (1, 2):
        (tmp_path / f"seconds-{n}").write_text("30")
    graph = tmp_path / "slow-then-agent.dot"
    graph.write_text(f"""digraph slow_then_agent {{
  graph [goal="resume an agent run twice", default_max_retry="0"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  slow1 [shape=parallelogram,
         tool_command="touch {tmp_path}/slow1.started; sleep $(cat {tmp_path}/seconds-1)"]
  slow2 [shape=parallelogram,
         tool_command="touch {tmp_path}/slow2.started; sleep $(cat {tmp_path}/seconds-2)"]
  implement [shape=box, llm_provider=openai, llm_model="gpt-5.4",
             prompt="Status to $KILROY_STAGE_STATUS_PATH.\\n@write after.txt written after resume"]
  fail_sink [shape=parallelogram, tool_command="exit 1"]
  start -> slow1
  slow1 -> slow2
  slow1 -> fail_sink [condition="outcome!=success"]
  slow2 -> implement
  slow2 -> fail_sink [condition="outcome!=success"]
  implement -> exit
  implement -> fail_sink [condition="outcome!=success"]
}}
""")
    workspace = tmp_path / "ws"
    spec = RunSpec(
        graph=graph,
        workspace=workspace,
        run_id="agent-3",
        run_dir=kilroy.settings.runs_dir / "agent-3",
        agent_profile="test_shim",
        agent_executable=SCRIPTED_AGENT,
    )
    process = kilroy.start(spec)
    for n in (1, 2):  # stop in slow<n>, resume: two resumes of the same run
        wait_for(tmp_path / f"slow{n}.started", process)
        assert kilroy.stop(process.logs_root, grace_seconds=2).stopped
        (tmp_path / f"seconds-{n}").write_text("0")
        process = kilroy.resume(process.logs_root)
    outcome = process.outcome(timeout=60)
    assert outcome.status == "success", outcome
    assert git(workspace, "show", "attractor/run/agent-3:after.txt") == "written after resume\n"
