"""``sf`` answers usage mistakes with usage text and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.cli.app import main


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["pipeline"],
        ["pipeline", "run"],
        ["pipeline", "validate", "x.dot", "-o", "xml"],
        ["pipeline", "run", "x.dot", "--bogus"],
        ["product"],
        ["product", "add", "p"],
        ["product", "add", "p", "--repo", ".", "--template", "stack-ts"],
        ["product", "add", "p", "--repo", ".", "--path", "x"],
        ["run", "start", "p"],
        ["run", "logs"],
        ["apply"],
        ["up", "--grace", "soon"],
        ["run", "list", "-o", "xml"],
    ],
)
def test_usage_mistakes_exit_2_without_a_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Usage:" in captured.err + captured.out


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("pipeline", "product", "run", "up", "apply"):
        assert command in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("sf (factoryos) ")


def test_a_factory_error_is_one_line_with_its_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYOS_KILROY", "/nonexistent/kilroy")
    code = main(["pipeline", "validate", "x.dot"])
    err = capsys.readouterr().err
    assert code == 127
    assert err.count("\n") == 1
    assert err.startswith("sf: error: ") and "/nonexistent/kilroy" in err


def test_sf_starts_without_the_slow_imports() -> None:
    """scipy (~1 s) and the Kubernetes client are imported only by the commands needing them."""
    import subprocess
    import sys

    probe = (
        "import sys, factoryos.cli.app; "
        "print(sorted({'scipy', 'kubernetes', 'kopf'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_bad_product_name_is_refused_before_scaffolding(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FACTORYOS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["product", "add", "Bad_Name", "--template", "stack-ts"]) == 2
    assert "Bad_Name" in capsys.readouterr().err
    assert not (tmp_path / "Bad_Name").exists(), "nothing scaffolded"
