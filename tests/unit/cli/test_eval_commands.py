"""``sf eval plan`` and ``sf eval bound``: the numbers, the output formats, the exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.cli.app import main


def test_plan_prints_the_scenarios_needed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "plan", "--target", "0.98", "--alpha", "0.05"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [["0", "149"], ["1", "236"], ["2", "313"], ["3", "386"]]


def test_plan_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "plan", "--sided", "two-sided", "--max-failures", "0", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["plans"] == [{"failures": 0, "trials": 183}]


def test_bound_exits_0_on_accept_and_1_on_reject(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "bound", "--passes", "149", "--trials", "149"]) == 0
    assert capsys.readouterr().out.startswith("accept: lower bound 0.9801")
    assert main(["eval", "bound", "-k", "148", "-n", "150", "-o", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["accepted"] is False and result["lower_bound"] == pytest.approx(0.958625)


def test_bad_numbers_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "bound", "-k", "5", "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "passes <= trials" in err
    assert main(["eval", "plan", "--target", "1.5"]) == 2


def test_run_gates_a_candidate_on_a_holdout_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holdouts, worktree = tmp_path / "holdouts", tmp_path / "candidate"
    (holdouts / "acceptance").mkdir(parents=True)
    (holdouts / "selection").mkdir()
    worktree.mkdir()
    (worktree / "answer.txt").write_text("42\n")
    (holdouts / "acceptance" / "answer.yaml").write_text(
        "id: answer\ninteraction: {command: cat answer.txt}\nexpect: {stdout_contains: ['42']}\n"
    )
    (holdouts / "selection" / "other.yaml").write_text(
        "id: other\ninteraction: {command: 'exit 1'}\nexpect: {exit_code: 0}\n"
    )
    report = tmp_path / "report.json"
    args = ["eval", "run", str(worktree), "--holdouts", str(holdouts), "-r", "5"]

    assert main([*args, "--target", "0.5", "--report", str(report)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["answer", "5/5"] and "accept" in out
    assert err.count("answer #") == 5
    saved = json.loads(report.read_text())
    assert saved["apiVersion"] == "factoryos.dev/eval-report/v1"
    assert (saved["passes"], saved["trials"]) == (5, 5) and len(saved["results"]) == 5

    assert main([*args, "-o", "json"]) == 1, "5/5 cannot prove 0.98"
    assert json.loads(capsys.readouterr().out)["accepted"] is False
    assert main([*args, "--pool", "selection", "--target", "0.5"]) == 1
    assert main([*args, "--pool", "nope"]) == 2
    assert "--pool must be" in capsys.readouterr().err
