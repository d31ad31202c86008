"""Secrets a record holds stay out of its repr (logs, tracebacks, a debugger's view)."""

from __future__ import annotations

from pathlib import Path

from factoryos.kilroy import RunSpec
from factoryos.settings import Settings


def test_the_settings_repr_leaves_out_the_dashboard_token() -> None:
    settings = Settings.from_env({"FACTORYOS_HOME": "/h", "FACTORYOS_DASHBOARD_TOKEN": "s3cret"})
    assert settings.dashboard_token == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "dashboard_token" not in repr(settings)
    assert "home=" in repr(settings) and "build_nice=19" in repr(settings)


def test_a_run_spec_repr_leaves_out_the_extra_environment() -> None:
    spec = RunSpec(
        graph=Path("p.dot"),
        workspace=Path("ws"),
        run_id="r1",
        run_dir=Path("runs/r1"),
        extra_env={"OPENAI_API_KEY": "sk-s3cret"},
    )
    assert spec.extra_env == {"OPENAI_API_KEY": "sk-s3cret"}
    assert "s3cret" not in repr(spec)
    assert "run_id='r1'" in repr(spec)
