"""``RunFiles`` keeps every path inside the run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import NotFoundError
from factoryos.rundata import RunFiles
from factoryos.workloads import RunDirectory


@pytest.fixture
def files(tmp_path: Path) -> RunFiles:
    run = tmp_path / "runs" / "default" / "r"
    (run / "c0" / "logs" / "implement").mkdir(parents=True)
    (run / "c0" / "logs" / "implement" / "out.txt").write_text("hello\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    (run / "c0" / "logs" / "implement" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (run / "c0" / "logs" / "up").symlink_to(tmp_path)
    return RunFiles(RunDirectory(run))


@pytest.mark.parametrize(
    "path",
    [
        "../../secret.txt",
        "c0/../../../secret.txt",
        "/etc/passwd",
        "",
        "c0/logs/implement/escape.txt",  # a symlink out of the run
        "c0/logs/up/secret.txt",  # through a symlinked folder
        "c0/logs/implement",  # a folder, not a file
        "c0/logs/implement/missing.txt",
        "c0/logs/implement/out.txt\x00.png",
    ],
)
def test_paths_outside_the_run_or_not_files_are_not_found(files: RunFiles, path: str) -> None:
    with pytest.raises(NotFoundError):
        files.resolve(path)


def test_a_file_inside_is_found_and_previewed(files: RunFiles) -> None:
    assert files.resolve("c0/logs/implement/out.txt").read_text() == "hello\n"
    assert files.preview("c0/logs/implement/out.txt") == ("hello\n", False)


def test_listings_skip_symlinks_and_bad_stage_names(files: RunFiles) -> None:
    assert [f.name for f in files.stage_files(0, "implement")] == ["out.txt"]
    assert files.stage_files(0, "missing") == []
    for bad in ("..", "a/b", ""):
        with pytest.raises(NotFoundError):
            files.stage_files(0, bad)
    assert files.stage_files(0, "up") == []


def test_big_and_binary_previews(files: RunFiles) -> None:
    folder = files.root / "c0" / "logs" / "implement"
    (folder / "big.txt").write_text("x" * (300 * 1024))
    text, cut = files.preview("c0/logs/implement/big.txt")
    assert cut and text is not None and len(text) == 256 * 1024
    (folder / "bin").write_bytes(b"ab\x00cd")
    assert files.preview("c0/logs/implement/bin") == (None, False)


def test_reports_stages_publish_are_listed_and_the_deploy_plan_is_read(files: RunFiles) -> None:
    logs = files.root / "c0" / "logs"
    (logs / "deploy_dryrun").mkdir()
    (logs / "deploy_dryrun" / "deploy-plan.json").write_text('{"app": "shop", "dryRun": true}')
    (logs / "deploy_dryrun" / "stdout.log").write_text("not a report\n")
    (logs / "evaluate").mkdir()
    (logs / "evaluate" / "public-checks.json").write_text('{"passed": 3}')
    (logs / "worktree").mkdir()  # the candidate's checkout: not a stage, never published
    (logs / "worktree" / "deploy-plan.json").write_text('{"app": "from the worktree"}')
    assert [f.path for f in files.published(0)] == [
        "c0/logs/deploy_dryrun/deploy-plan.json",
        "c0/logs/evaluate/public-checks.json",
    ]
    found = files.deploy_plan(files.published(0))
    assert found is not None
    assert found[0].name == "deploy-plan.json" and found[1] == {"app": "shop", "dryRun": True}
    assert files.published(1) == [] and files.deploy_plan(files.published(1)) is None


def test_an_unreadable_or_escaping_plan_is_not_shown(files: RunFiles, tmp_path: Path) -> None:
    logs = files.root / "c0" / "logs"
    (logs / "deploy_dryrun").mkdir()
    (logs / "deploy_dryrun" / "deploy-plan.json").write_text("{not json")
    assert files.deploy_plan(files.published(0)) is None
    (tmp_path / "plan.json").write_text('{"app": "elsewhere"}')
    (logs / "deploy_dryrun" / "deploy-plan.json").unlink()
    (logs / "deploy_dryrun" / "deploy-plan.json").symlink_to(tmp_path / "plan.json")
    assert files.published(0) == [] and files.deploy_plan(files.published(0)) is None
