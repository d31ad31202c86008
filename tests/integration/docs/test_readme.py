"""The README's commands, run as a newcomer runs them (readme_blocks.py parses them).

Each tagged block is followed word for word in a fresh HOME, with only the README's
placeholders replaced: the key (``sk-ant-your-key``) and gateway URL
(``https://llm-gateway.example.com``, here the scripted ModelEndpoint) of the real-agent
section, the example run name ``myapp-3fa9c2``, ``/tmp/ws``, and the dashboard port
when something else holds 8400. The cluster blocks are checked here (every path, make
target and ``sf`` option they name exists) and run by the e2e tier.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from factory_support import free_port
from readme_blocks import ROOT, Command, Shell, blocks, console_block_count, user_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

sys.path.insert(0, str(ROOT / "tests" / "integration" / "agents"))
from agent_clis import CLAUDE, DUMMY_KEY, agent_pipeline  # noqa: E402
from model_endpoint import ModelEndpoint, coding_script  # noqa: E402

HANDLED = {"make", "quick-start", "real-agent", "pipeline-run", "events-stream",
           "observability", "voice", "cluster-install", "single-node"}  # fmt: skip
APP = 'ROUTES = {"/": "hello"}\n'
APP_WITH_HEALTH = 'ROUTES = {"/": "hello", "/health": "ok"}\n'
AGENT_PIPELINE = agent_pipeline("Keep myapp working", "python3 check.py")


def block(tag: str) -> list[Command]:
    return blocks()[tag]


def new_user(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    return home


def git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    me = ["-c", "user.name=me", "-c", "user.email=me@example.invalid"]
    subprocess.run(["git", "-C", str(path), *me, "commit", "-qm", "myapp"], check=True)
    return path


def port_8400() -> dict[str, str]:
    """No substitution when 8400 is free (the README's default), else a free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 8400))
            return {}
        except OSError:
            port = free_port()
    return {"sf up": f"sf up --port {port}", "127.0.0.1:8400": f"127.0.0.1:{port}"}


def test_every_command_block_is_tagged_and_run() -> None:
    found = blocks()
    assert len(found) == console_block_count(), "a ```console block without a readme-test tag"
    assert set(found) == HANDLED, "a tagged block no test below runs"


def test_the_quick_start_then_the_event_stream(tmp_path: Path, factory_env: dict[str, str]) -> None:
    home = new_user(tmp_path, "newcomer")
    git_repo(home / "src" / "myapp", {"pipeline.dot": (ROOT / "examples" / "pipelines" / "tool-only.dot").read_text()})  # fmt: skip  # noqa: E501
    shell = Shell(user_env(home, factory_env), home, port_8400())
    up, add, start, listed = block("quick-start")
    try:
        shell.start(up, tmp_path / "sf-up.log", ready=lambda out: "dashboard token" in out)
        shell.run(add)
        started = shell.run(start)
        assert "Phase: Succeeded" in " ".join(started.stdout.split())
        listing = shell.run(listed)
        (name,) = re.findall(r"^(myapp-[0-9a-f]{6})\s", listing.stdout, re.M)

        (curl,) = block("events-stream")
        shell.substitutions = {**shell.substitutions, "myapp-3fa9c2": name}
        # The stream stays open for live events: read what five seconds bring.
        seen = subprocess.run(["timeout", "5", "bash", "-c", shell.resolve(curl)], env=shell.env,
                              capture_output=True, text=True).stdout  # fmt: skip
        assert re.search(r"^id: 1$", seen, re.M), seen[:2000]
        assert "dev.factoryos.run.finished" in seen
    finally:
        shell.stop()


def test_the_real_agent_section_word_for_word(tmp_path: Path, factory_env: dict[str, str]) -> None:
    if CLAUDE.executable() is None:
        pytest.skip("claude is not installed (run `make agents`; it needs Node.js >= 20)")
    home = new_user(tmp_path, "newcomer")
    git_repo(home / "src" / "myapp", {
        "app.py": APP, "pipeline.dot": AGENT_PIPELINE, ".gitignore": "status.json\n",
        "check.py": "import app\nassert app.ROUTES['/health'] == 'ok'\n",
    })  # fmt: skip
    script = coding_script("app.py", APP, APP_WITH_HEALTH, "python3 check.py", write_status=True,
                           match="add a /health endpoint")  # fmt: skip
    export, up, add, doctor, start = block("real-agent")
    with ModelEndpoint(script) as endpoint:
        shell = Shell(user_env(home, factory_env), home, {
            "sk-ant-your-key": DUMMY_KEY, "https://llm-gateway.example.com": endpoint.base_url,
            **port_8400(),
        })  # fmt: skip
        try:
            shell.run(export)
            shell.start(up, tmp_path / "sf-up.log", ready=lambda out: "dashboard token" in out)
            shell.run(add)
            checks = shell.run(doctor)
            shell.run(start)
        finally:
            shell.stop()
    assert endpoint.received("add a /health endpoint")
    assert "claude" in checks.stdout + checks.stderr
    (clone,) = (home / ".factoryos" / "runs" / "default").glob("myapp-*/c0/repo")
    run = clone.parents[1].name
    branch = subprocess.run(["git", "-C", str(clone), "show", f"factory/{run}/c0:app.py"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert branch == APP_WITH_HEALTH  # the candidate's branch holds the agent's change


def test_sf_pipeline_run_as_shown(tmp_path: Path, factory_env: dict[str, str]) -> None:
    home = new_user(tmp_path, "newcomer")
    (run,) = block("pipeline-run")
    shell = Shell(user_env(home, factory_env), ROOT, {"/tmp/ws": str(tmp_path / "ws")})
    done = shell.run(run)
    assert re.search(r"^run tool-only-\S+: success$", done.stdout, re.M), done.stdout
    assert (home / ".factoryos" / "runs").is_dir()


def test_the_voice_commands(tmp_path: Path, factory_env: dict[str, str]) -> None:
    say, transcribe, token, serve = block("voice")
    home = new_user(tmp_path, "newcomer")
    port = free_port()
    substitutions = {"--port 8500": f"--port {port}", "$(openssl rand -hex 32)": "readme-token"}
    shell = Shell(user_env(home, factory_env), tmp_path, substitutions)
    shell.run(say)
    heard = json.loads(shell.run(transcribe).stdout)
    assert "build is green" in heard["text"].lower(), heard
    shell.run(token)
    try:
        shell.start(serve, tmp_path / "voice.log", ready=lambda _: _answers(port, "/healthz"))
        assert not _answers(port, "/v1/capabilities"), "secure by default: the token is needed"
        assert _answers(port, "/v1/capabilities", {"Authorization": "Bearer readme-token"})
    finally:
        shell.stop()


def test_the_two_commands_and_the_observability_stack_exist() -> None:
    (demo, test) = block("make")
    for command in (demo, test):
        assert subprocess.run(["make", "-n", *command.text.split()[1:]], cwd=ROOT,
                              capture_output=True).returncode == 0, command.text  # fmt: skip
    # `make demo` runs examples/demo.sh (tests/integration/demo runs it); `make test` is CI.
    compose, export, up = block("observability")
    assert (ROOT / compose.text.split("-f ")[1].split()[0]).is_file()
    assert export.text == "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"
    assert up.text == "sf up"  # traced: tests/integration/controlplane/test_traces.py
    has_compose = (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    )
    if not has_compose:
        pytest.skip("no Docker Compose here: the observability stack itself is not started")
    config = subprocess.run(["docker", "compose", "-f", compose.text.split("-f ")[1].split()[0],
                             "config", "-q"], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert config.returncode == 0, config.stderr


def test_the_cluster_blocks_name_what_exists(factory_env: dict[str, str]) -> None:
    """The e2e tier runs these on the single node (tools/cluster/e2e.sh: cluster-up,
    images, deploy with kustomize then Helm, tests/e2e applying the example resources);
    here every file, make target and ``sf``/``kubectl`` form they use must exist."""
    commands = [c.text for c in block("cluster-install") + block("single-node")]
    for text in commands:
        words = text.replace("sudo ", "").split()
        if words[0] == "make":
            dry = subprocess.run(["make", "-n", words[1]], cwd=ROOT, capture_output=True)
            assert dry.returncode == 0, text
        for flag in ("-k", "-f"):
            if words[0] == "kubectl" and flag in words and words[words.index(flag) + 1] != "-":
                assert (ROOT / words[words.index(flag) + 1]).exists(), text
        if words[:2] == ["helm", "install"]:
            assert (ROOT / words[3] / "Chart.yaml").is_file(), text
        if "sf" in words:
            argv = words[words.index("sf") + 1 :]
            argv = [w for w in argv if w not in ("-f",)]
            helped = subprocess.run([sys.executable, "-m", "factoryos.cli.app", *argv, "--help"],
                                    env=factory_env, capture_output=True, text=True)  # fmt: skip
            assert helped.returncode == 0, f"{text}: {helped.stderr}"


def _answers(port: int, path: str, headers: dict[str, str] | None = None) -> bool:
    try:
        url = f"http://127.0.0.1:{port}{path}"
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
