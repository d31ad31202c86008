"""``sf eval plan`` and ``sf eval bound``: the numbers, the output formats, the exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.cli.app import main


def test_plan_prints_the_design_and_the_fixed_plans(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "plan", "--target", "0.98", "--alpha", "0.05"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sequential gate: target 0.98, alpha 0.05")
    assert "earliest acceptance after 190" in out and "456 trials allowing 4 failures" in out
    oc = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:2] in ("0.", "1 ")}
    assert float(oc["0.98"]) <= 0.05 and float(oc["0.995"]) >= 0.9
    rows = [line.split() for line in out.splitlines()[-4:]]
    assert rows == [["0", "149"], ["1", "236"], ["2", "313"], ["3", "386"]]


def test_plan_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "plan", "--sided", "two-sided", "--max-failures", "0", "-o", "json"]
    assert main([*args, "--method", "clopper-pearson"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plans"] == [{"failures": 0, "trials": 183}]
    assert data["design"]["method"] == "clopper-pearson" and data["design"]["alpha"] == 0.025


def test_plan_counts_the_distinct_instances_of_a_holdout_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acceptance").mkdir()
    (tmp_path / "acceptance" / "g.yaml").write_text(
        "id: g\ngenerate: {count: 50, vars: {x: {int: [1, 1000]}}}\n"
        "interaction: {command: 'echo {{x}}'}\nexpect: {stdout_contains: ['{{x}}']}\n"
    )
    assert main(["eval", "plan", "--target", "0.9", "--holdouts", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "InsufficientScenarios: the acceptance pool has 50 distinct instance(s)" in out
    assert "may need 124 (add 74 more" in out


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

    assert main([*args, "--target", "0.5", "--trials", "repeated", "--report", str(report)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["answer", "5/5"] and "accept" in out
    assert "n = 5 attempts (repeated" in out
    assert err.count("answer #") == 5
    saved = json.loads(report.read_text())
    assert saved["apiVersion"] == "factoryos.dev/eval-report/v1"
    assert (saved["passes"], saved["trials"]) == (5, 5) and len(saved["results"]) == 5

    assert main([*args, "--target", "0.5", "-o", "json"]) == 1, "one instance proves nothing"
    honest = json.loads(capsys.readouterr().out)
    assert (honest["passes"], honest["trials"], honest["attempts"]) == (1, 1, 5)
    assert main([*args, "-o", "json"]) == 1, "5/5 cannot prove 0.98"
    assert json.loads(capsys.readouterr().out)["accepted"] is False
    assert main([*args, "--pool", "selection", "--target", "0.5"]) == 1
    assert main([*args, "--pool", "nope"]) == 2
    assert "--pool must be" in capsys.readouterr().err
