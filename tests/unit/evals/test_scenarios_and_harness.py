"""Holdout scenarios: the format, the loader's errors, and the harness running them for real."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from factoryos.errors import InvalidInputError
from factoryos.evals.harness import Harness, ServiceSpec, TrialRecord
from factoryos.evals.scenarios import Pool, load_scenarios, pool

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "FACTORYOS_HOME": "/secret/home"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def holdouts(tmp_path: Path) -> Path:
    folder = tmp_path / "holdouts"
    write(
        folder,
        "selection/greets.yaml",
        """
        id: greets
        tags: [cli]
        interaction: {command: "python3 greet.py Ada"}
        expect: {exit_code: 0, stdout_contains: ["Hello, Ada"], stdout_matches: "^Hello"}
    """,
    )
    write(
        folder,
        "acceptance/shouts.yaml",
        """
        id: shouts
        interaction: {command: "python3 greet.py --loud Bo"}
        expect: {exit_code: 0, stdout_contains: ["HELLO, BO"]}
    """,
    )
    write(
        folder,
        "extra.yaml",
        """
        id: canary-A7f3
        pool: acceptance
        setup: ["test -f greet.py"]
        interaction: {command: "cat input.txt", stdin: ""}
        expect: {stdout_contains: ["never there"]}
    """,
    )
    return folder


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    folder = tmp_path / "candidate"
    write(
        folder,
        "greet.py",
        """
        import sys
        name = sys.argv[-1]
        text = f"Hello, {name}"
        print(text.upper() if "--loud" in sys.argv else text)
    """,
    )
    (folder / "input.txt").write_text("plain\n")
    return folder


def test_pools_come_from_the_folder_or_the_field(holdouts: Path) -> None:
    scenarios = load_scenarios(holdouts)
    assert [s.id for s in scenarios] == ["canary-A7f3", "greets", "shouts"]
    assert [s.id for s in pool(scenarios, Pool.SELECTION)] == ["greets"]
    assert [s.id for s in pool(scenarios, Pool.ACCEPTANCE)] == ["canary-A7f3", "shouts"]


def test_a_secret_volumes_hidden_copies_are_not_read_twice(tmp_path: Path) -> None:
    """A Secret or ConfigMap mounted as a folder: each key a link into ..data/ (and a
    timestamped ..2026_.../ behind it), so only the links are scenarios."""
    folder = tmp_path / "holdouts"
    body = "id: greets\npool: selection\ninteraction: {command: ls}\nexpect: {}\n"
    write(folder / "..2026_12_03_17_00_00.1", "greets.yaml", body)
    (folder / "..data").symlink_to("..2026_12_03_17_00_00.1")
    (folder / "greets.yaml").symlink_to("..data/greets.yaml")
    assert [s.id for s in load_scenarios(folder)] == ["greets"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\npool: selection\ninteraction: {}\nexpect: {}", "exactly one of command, http"),
        ("id: x\ninteraction: {command: ls}\nexpect: {}", "pool"),
        ("id: 'bad id'\npool: selection\ninteraction: {command: ls}\nexpect: {}", "id"),
        (
            "id: x\npool: selection\ninteraction: {command: ls}\nexpect: {stdout_matches: '('}",
            "regular",
        ),
        ("id: x\npool: selection\ninteraction: {command: ls}\nexpect: {}\nsurprise: 1", "surprise"),
        ("- a list", "a scenario is a mapping"),
        ("id: [", "not readable YAML"),
    ],
)
def test_a_bad_scenario_names_its_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "h", "one.yaml", text)
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_scenarios(tmp_path / "h")
    assert "one.yaml" in str(caught.value)


def test_duplicates_and_empty_folders_are_refused(tmp_path: Path) -> None:
    body = "id: same\npool: selection\ninteraction: {command: ls}\nexpect: {}\n"
    write(tmp_path / "h", "a.yaml", body)
    write(tmp_path / "h", "b.yaml", body)
    with pytest.raises(InvalidInputError, match="used twice"):
        load_scenarios(tmp_path / "h")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match=r"no \*\.yaml"):
        load_scenarios(tmp_path / "empty")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_scenarios(tmp_path / "missing")


def test_the_harness_runs_repetitions_and_records_every_trial(
    holdouts: Path, worktree: Path
) -> None:
    heard: list[TrialRecord] = []
    records = Harness(worktree, ENV).run(
        load_scenarios(holdouts), repetitions=3, on_trial=heard.append
    )
    assert heard == records and len(records) == 9
    outcome = {(r.scenario, r.repetition): r.passed for r in records}
    assert all(outcome[("greets", i)] and outcome[("shouts", i)] for i in (1, 2, 3))
    canary = [r for r in records if r.scenario == "canary-A7f3"]
    assert not any(r.passed for r in canary) and canary[0].reason == "output lacks expected text #1"


def test_timeouts_and_failed_setup_fail_the_trial(tmp_path: Path, worktree: Path) -> None:
    write(
        tmp_path / "h",
        "slow.yaml",
        """
        id: slow
        pool: selection
        timeout_seconds: 0.3
        interaction: {command: "sleep 5"}
        expect: {exit_code: 0}
    """,
    )
    write(
        tmp_path / "h",
        "broken.yaml",
        """
        id: broken
        pool: selection
        setup: ["exit 3"]
        interaction: {command: "true"}
        expect: {exit_code: 0}
    """,
    )
    records = {r.scenario: r for r in Harness(worktree, ENV).run(load_scenarios(tmp_path / "h"))}
    assert records["slow"].reason == "timed out after 0.3s" and records["slow"].seconds < 3
    assert records["broken"].reason == "setup command 1 exited 3"


def test_a_candidate_sees_neither_the_holdouts_nor_the_factorys_settings(
    holdouts: Path, worktree: Path, tmp_path: Path
) -> None:
    write(
        tmp_path / "probe",
        "probe.yaml",
        """
        id: probe
        pool: selection
        interaction: {command: "env; pwd; ls -aR .; cat /proc/self/cmdline | tr '\\\\0' ' '"}
        expect: {stdout_contains: ["nothing"]}
    """,
    )
    (probe,) = load_scenarios(tmp_path / "probe")
    harness = Harness(worktree, {**ENV, "HOLDOUTS": str(holdouts)})
    code, seen = harness._shell(probe.interaction.command or "", 10)
    assert code == 0
    assert str(holdouts) not in seen and "canary-A7f3" not in seen and "greets.yaml" not in seen
    assert "FACTORYOS" not in seen and "HOLDOUTS" not in seen
    assert sorted(p.name for p in worktree.iterdir()) == ["greet.py", "input.txt"]


def test_http_scenarios_talk_to_the_candidates_service(tmp_path: Path, worktree: Path) -> None:
    write(
        worktree,
        "serve.py",
        """
        import json, os
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"greeting": "Hello, " + self.path.rsplit("=", 1)[-1]}).encode()
                self.send_response(200 if self.path.startswith("/greet") else 404)
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """,
    )
    write(
        tmp_path / "h",
        "ok.yaml",
        """
        id: http-ok
        pool: acceptance
        interaction: {http: {path: "/greet?name=Ada"}}
        expect: {status: 200, body_contains: ["Ada"], json: {greeting: "Hello, Ada"}}
    """,
    )
    write(
        tmp_path / "h",
        "wrong.yaml",
        """
        id: http-wrong
        pool: acceptance
        interaction: {http: {path: "/nope"}}
        expect: {status: 200}
    """,
    )
    service = ServiceSpec(f"{sys.executable} serve.py", ready_path="/greet?name=x")
    records = {
        r.scenario: r for r in Harness(worktree, ENV, service).run(load_scenarios(tmp_path / "h"))
    }
    assert records["http-ok"].passed, records["http-ok"].reason
    assert records["http-wrong"].reason == "status 404, expected 200"
    with pytest.raises(InvalidInputError, match="needs the product's service"):
        Harness(worktree, ENV).run(load_scenarios(tmp_path / "h"))


def test_voice_scenarios_need_speech_providers(tmp_path: Path, worktree: Path) -> None:
    write(
        tmp_path / "h",
        "v.yaml",
        """
        id: v
        pool: acceptance
        interaction: {voice: {say: "hello"}}
        expect: {transcript_contains: ["hi"]}
    """,
    )
    with pytest.raises(InvalidInputError, match="needs speech providers"):
        Harness(worktree, ENV).run(load_scenarios(tmp_path / "h"))
