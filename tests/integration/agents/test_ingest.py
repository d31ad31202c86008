"""``sf pipeline ingest`` with the real Kilroy and the real claude, offline.

The scripted ModelEndpoint plays the model: when the conversation carries the spec's
marker, it writes ``pipeline.dot`` in claude's working directory with claude's Bash
tool (Kilroy v0.1.0 reads the pipeline back from that file) and finishes. ``sf``
runs as a real subprocess with the endpoint as its gateway and a dummy key in the
variable it is told to read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from agent_clis import CLAUDE, DUMMY_KEY
from model_endpoint import ModelEndpoint, Script, Step

from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / ".tools" / "bin"
MARKER = "spec-9c41"
SPEC = f"# Greeter\n\nBuild a CLI that prints hello ({MARKER}).\n"
VALID = """digraph greeter {
  graph [goal="Build a CLI that prints hello",
         model_stylesheet="* { llm_provider: anthropic; llm_model: claude-sonnet-4.5; }"]
  start [shape=Mdiamond]
  exit [shape=Msquare]
  implement [shape=box, prompt="Build it. Write $KILROY_STAGE_STATUS_PATH
    (fallback: $KILROY_STAGE_STATUS_FALLBACK_PATH)."]
  start -> implement -> exit
}
"""
NO_EXIT = """digraph greeter {
  start [shape=Mdiamond]
  implement [shape=box, prompt="Build it."]
  start -> implement
}
"""


def writes(dot: str) -> Script:
    command = f"cat > pipeline.dot <<'DOT'\n{dot}DOT"
    return Script(steps=(Step("shell", command=command), Step("final", text="Wrote it.")),
                  match=MARKER)  # fmt: skip


def sf_ingest(
    tmp_path: Path, base_url: str, env_extra: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "SPEC.md"
    spec.write_text(SPEC)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "FACTORYOS_HOME": str(tmp_path / "factory"),
        "FACTORYOS_TOOLS_DIR": str(TOOLS),
        **env_extra,
    }
    argv = [sys.executable, "-m", "factoryos.cli.app", "pipeline", "ingest", str(spec),
            "-o", str(tmp_path / "out" / "pipeline.dot"), "--base-url", base_url,
            "--credential-env", "TEAM_LLM_KEY", "--repo", str(tmp_path)]  # fmt: skip
    return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


@pytest.fixture
def claude() -> None:
    if CLAUDE.executable() is None:
        pytest.skip("claude is not installed (run `make agents`; it needs Node.js >= 20)")


@pytest.mark.usefixtures("claude")
def test_ingest_writes_a_pipeline_kilroy_accepts(tmp_path: Path) -> None:
    with ModelEndpoint(writes(VALID)) as endpoint:
        proc = sf_ingest(tmp_path, endpoint.base_url, {"TEAM_LLM_KEY": DUMMY_KEY})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "out" / "pipeline.dot"
    assert out.read_text().strip() == VALID.strip()
    assert endpoint.received("Build a CLI that prints hello"), "the spec never reached the model"
    assert any(r.headers.get("x-api-key") == DUMMY_KEY for r in endpoint.model_requests())
    settings = Settings(home=tmp_path / "factory", tools_dir=TOOLS)
    (result,) = Kilroy(find_kilroy(settings, os.environ), settings).validate([out])
    assert result.ok, result
    assert "ingest:" in proc.stderr  # progress lines


@pytest.mark.usefixtures("claude")
def test_a_pipeline_kilroy_refuses_exits_1_with_the_findings(tmp_path: Path) -> None:
    with ModelEndpoint(writes(NO_EXIT)) as endpoint:
        proc = sf_ingest(tmp_path, endpoint.base_url, {"TEAM_LLM_KEY": DUMMY_KEY})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error:" in proc.stdout and "exit" in proc.stdout.lower(), proc.stdout
    assert "refuses the pipeline" in proc.stdout
    assert (tmp_path / "out" / "pipeline.dot").is_file()  # kept, to fix


def test_a_missing_key_is_named_before_anything_runs(tmp_path: Path) -> None:
    with ModelEndpoint(writes(VALID)) as endpoint:
        proc = sf_ingest(tmp_path, endpoint.base_url, {})
    assert proc.returncode != 0
    assert "TEAM_LLM_KEY" in proc.stderr, proc.stderr
    assert not endpoint.model_requests()
    assert not (tmp_path / "out" / "pipeline.dot").exists()
