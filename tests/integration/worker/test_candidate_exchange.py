"""Candidates handed over through git between workloads on different volumes (real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.worker.exchange import CandidateExchange, ExchangeError
from factoryos.workloads import WorkloadKind, WorkloadSpec, candidate_branch


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def spec(runs: Path, candidate: int, kind: WorkloadKind = WorkloadKind.BUILD) -> WorkloadSpec:
    return WorkloadSpec(
        name=f"r-{'e' if kind is WorkloadKind.EVALUATE else 'c'}{candidate}-1", namespace="ns",
        product="p", run="r", candidate=candidate, attempt=1, kind=kind,
        run_dir=runs / "ns" / "r", repo_url="https://example.invalid/p.git",
        branch="main", pipeline="pipeline.dot", goal="g",
    )  # fmt: skip


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """The run's repository in the git service (a bare repository reached by path here)."""
    bare = tmp_path / "service" / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def built_candidate(runs: Path, index: int) -> WorkloadSpec:
    """A builder's volume: its clone with the candidate's branch and one commit on it."""
    build = spec(runs, index)
    clone = build.layout.repo(index)
    clone.mkdir(parents=True)
    git(clone, "init", "-q", "-b", "main")
    git(
        clone,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "base",
    )
    git(clone, "checkout", "-q", "-b", candidate_branch("r", index))
    (clone / "out.txt").write_text(f"candidate {index}\n")
    git(clone, "add", "out.txt")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"c{index}")
    return build


def test_builds_push_and_the_evaluation_clones_every_candidate(
    tmp_path: Path, service: Path
) -> None:
    exchange = CandidateExchange(str(service), "token", {"PATH": "/usr/bin:/bin"})
    for index in (0, 1):
        exchange.push_candidate(built_candidate(tmp_path / f"volume-c{index}", index))
    evaluation = spec(tmp_path / "volume-e1", 1, WorkloadKind.EVALUATE)
    exchange.fetch_candidates(evaluation, [0, 1])
    for index in (0, 1):
        clone = evaluation.layout.repo(index)
        assert (clone / "out.txt").read_text() == f"candidate {index}\n"
        assert git(clone, "branch", "--show-current") == candidate_branch("r", index)
        assert git(clone, "remote", "get-url", "origin") == "https://example.invalid/p.git"


def test_a_resumed_evaluation_keeps_the_clones_it_has(tmp_path: Path, service: Path) -> None:
    exchange = CandidateExchange(str(service), "token", {"PATH": "/usr/bin:/bin"})
    exchange.push_candidate(built_candidate(tmp_path / "volume-c0", 0))
    evaluation = spec(tmp_path / "volume-e1", 1, WorkloadKind.EVALUATE)
    exchange.fetch_candidates(evaluation, [0])
    marker = evaluation.layout.repo(0) / "scratch"
    marker.write_text("kept")
    exchange.fetch_candidates(evaluation, [0])
    assert marker.read_text() == "kept"


def test_a_candidate_missing_from_the_service_is_an_exchange_error(
    tmp_path: Path, service: Path
) -> None:
    exchange = CandidateExchange(str(service), "token", {"PATH": "/usr/bin:/bin"})
    evaluation = spec(tmp_path / "volume-e1", 1, WorkloadKind.EVALUATE)
    with pytest.raises(ExchangeError, match="git clone with the factory git service"):
        exchange.fetch_candidates(evaluation, [3])
    assert not evaluation.layout.repo(3).exists()


def test_nothing_is_exchanged_without_the_jobs_variables() -> None:
    assert CandidateExchange.from_env({"FACTORYOS_EXCHANGE_URL": "http://d/git"}) is None
    found = CandidateExchange.from_env(
        {"FACTORYOS_EXCHANGE_URL": "http://d/git", "FACTORYOS_EXCHANGE_TOKEN": "t"}
    )
    assert found is not None and (found.url, found.token) == ("http://d/git", "t")
