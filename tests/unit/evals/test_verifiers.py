"""The deterministic screen: commands by kind, in order, with timeouts and kept output."""

from __future__ import annotations

from pathlib import Path

from factoryos.evals.verifiers import log_name, run_verifiers, screen_reason
from factoryos.models import VerifierKind, Verifiers

ENV = {"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "s3cret"}


def verifiers(**kinds: list[tuple[str, str, int]]) -> Verifiers:
    return Verifiers.model_validate(
        {
            kind: [{"name": n, "command": c, "timeoutSeconds": t} for n, c, t in commands]
            for kind, commands in kinds.items()
        }
    )


def test_all_pass_in_kind_order_with_their_output_kept(tmp_path: Path) -> None:
    spec = verifiers(
        unit=[("tests", "echo unit ran; true", 10)],
        typecheck=[("types", "echo types ok", 10)],
        lint=[("style", "env", 10)],
    )
    results = run_verifiers(spec, tmp_path, tmp_path / "out", ENV)
    assert [(r.kind, r.name, r.passed) for r in results] == [
        (VerifierKind.TYPECHECK, "types", True),
        (VerifierKind.LINT, "style", True),
        (VerifierKind.UNIT, "tests", True),
    ]
    assert (tmp_path / "out" / log_name("unit", "tests")).read_text() == "unit ran\n"
    assert "s3cret" not in (tmp_path / "out" / "lint-style.log").read_text(), "scrubbed env"
    assert screen_reason(results) is None


def test_a_failing_kind_screens_the_candidate_out_and_stops_the_screen(tmp_path: Path) -> None:
    spec = verifiers(
        typecheck=[("mypy", "echo 'a.py:1: error: nope'; exit 1", 10), ("other", "true", 10)],
        unit=[("tests", "touch ran-unit", 10)],
    )
    results = run_verifiers(spec, tmp_path, tmp_path / "out", ENV)
    assert [r.name for r in results] == ["mypy", "other"], "unit never ran"
    assert not (tmp_path / "ran-unit").exists()
    failed = results[0]
    assert failed.exit_code == 1 and "a.py:1: error: nope" in (failed.message or "")
    assert screen_reason(results) == (
        "verifier typecheck/mypy failed: exited 1: a.py:1: error: nope"
    )


def test_a_verifier_past_its_timeout_fails(tmp_path: Path) -> None:
    results = run_verifiers(verifiers(unit=[("slow", "sleep 5", 1)]), tmp_path, tmp_path, ENV)
    assert results[0].exit_code is None and results[0].message == "timed out after 1s"
    assert results[0].duration_seconds is not None and results[0].duration_seconds < 4
