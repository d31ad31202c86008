"""``candidate_sandbox``: what a candidate's Kilroy may see (an allow-list) and write."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.runner.sandboxing import candidate_sandbox, link_roots
from factoryos.settings import Settings
from factoryos.workloads import WorkloadSpec


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A user's home with the factory's home, tools and caches in it, and the holdouts."""
    paths = {
        "user": tmp_path / "user",
        "factory": tmp_path / "user" / ".factoryos",
        "tools": tmp_path / "src" / ".tools" / "bin",
        "package": tmp_path / "user" / ".cache" / "agents" / "x",
        "gobin": tmp_path / "user" / "go" / "bin",
        "venv": tmp_path / "src" / ".venv",
        "holdouts": tmp_path / "src" / "holdouts",
        "in_factory": tmp_path / "user" / ".factoryos" / "bin",
        "elsewhere": tmp_path / "opt" / "bin",
        "scratch": tmp_path / "tmp",
        "in_scratch": tmp_path / "tmp" / "bin",
    }
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    cli = paths["package"] / "node_modules" / "@scope" / "cli" / "cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text("")
    (paths["tools"] / "codex").symlink_to(cli)
    (paths["tools"] / "kilroy").write_text("")
    return paths


def sandbox_of(world: dict[str, Path], search_path: list[Path]):  # type: ignore[no-untyped-def]
    settings = Settings(home=world["factory"], tools_dir=world["tools"])
    spec = WorkloadSpec(
        name="r-c1-1", namespace="default", product="p", run="r", candidate=1, attempt=1,
        run_dir=settings.runs_dir / "default" / "r", goal="g",
    )  # fmt: skip
    spec.layout.candidate(1).mkdir(parents=True)
    env = {"HOME": str(world["user"]), "PATH": ":".join(map(str, search_path))}
    return candidate_sandbox(
        spec, bwrap=Path("/usr/bin/bwrap"), kilroy=world["tools"] / "kilroy",
        settings=settings, env=env, python_prefixes=[world["venv"]],
        scratch=world["scratch"],
    )  # fmt: skip


def test_only_the_candidates_own_folder_is_writable(world: dict[str, Path]) -> None:
    sandbox = sandbox_of(world, [])
    assert sandbox.writable == (world["factory"] / "runs" / "default" / "r" / "c1",)


def test_tools_python_and_the_agent_packages_are_readable(world: dict[str, Path]) -> None:
    shown = sandbox_of(world, []).read_only
    assert Path("/usr") in shown
    assert {world["tools"], world["package"], world["venv"]} <= set(shown)


def test_path_folders_are_shown_except_where_secrets_are(
    world: dict[str, Path], tmp_path: Path
) -> None:
    search = [world["gobin"], world["elsewhere"], world["in_factory"], world["user"], tmp_path,
              world["in_scratch"]]  # fmt: skip
    shown = set(sandbox_of(world, search).read_only)
    assert {world["gobin"], world["elsewhere"]} <= shown, "inside the home is fine"
    assert world["in_factory"] not in shown, "nothing of FACTORYOS_HOME but its tools"
    assert world["user"] not in shown and tmp_path not in shown, "no folder holding secrets"
    assert world["in_scratch"] not in shown, "nothing of the shared /tmp"


def test_nothing_shown_holds_the_holdouts_or_the_factorys_home(world: dict[str, Path]) -> None:
    search = [world["gobin"], world["elsewhere"], world["in_factory"], world["user"]]
    for path in sandbox_of(world, search).read_only:
        for secret in (world["holdouts"], world["factory"] / "dashboard-token"):
            assert not secret.is_relative_to(path), f"{path} shows {secret}"


def test_a_link_into_node_modules_brings_its_package_folder(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "node_modules" / ".bin" / "tool"
    target.parent.mkdir(parents=True)
    target.write_text("")
    plain = tmp_path / "plain-tool"
    plain.write_text("")
    links = tmp_path / "bin"
    links.mkdir()
    (links / "a").symlink_to(target)
    (links / "b").symlink_to(plain)
    (links / "c").write_text("not a link")
    assert link_roots(links) == [tmp_path / "cache", plain]
