"""Finding Kilroy: explicit setting > FACTORYOS_KILROY > tools dir > PATH, and its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.errors import ToolMissingError
from factoryos.kilroy import PINNED_VERSION, find_kilroy, version_cache
from factoryos.kilroy.binary import (
    SOURCE_GO_MOD,
    parse_version_output,
    pinned_version_from_go_mod,
)
from factoryos.settings import Settings


def fake_kilroy(
    folder: Path, version_line: str = f"kilroy {PINNED_VERSION}", code: int = 0
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kilroy"
    path.write_text(f"#!/bin/sh\necho '{version_line}'\nexit {code}\n")
    path.chmod(0o755)
    return path


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": tmp_path / "home",
        "tools_dir": tmp_path / "empty-tools",
        "search_path": "",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_the_pinned_version_is_the_one_in_tools_go_mod() -> None:
    assert pinned_version_from_go_mod(SOURCE_GO_MOD) == PINNED_VERSION


def test_the_explicit_setting_wins_over_everything(tmp_path: Path) -> None:
    explicit = fake_kilroy(tmp_path / "explicit")
    env_bin = fake_kilroy(tmp_path / "env")
    tools = fake_kilroy(tmp_path / "tools").parent
    on_path = fake_kilroy(tmp_path / "path").parent
    s = settings(tmp_path, kilroy_binary=explicit, tools_dir=tools, search_path=str(on_path))
    found = find_kilroy(s, {"FACTORYOS_KILROY": str(env_bin)})
    assert found.path == explicit
    assert found.version == PINNED_VERSION
    assert found.warning is None


def test_the_environment_variable_comes_next(tmp_path: Path) -> None:
    env_bin = fake_kilroy(tmp_path / "env")
    tools = fake_kilroy(tmp_path / "tools").parent
    s = settings(tmp_path, tools_dir=tools)
    assert find_kilroy(s, {"FACTORYOS_KILROY": str(env_bin)}).path == env_bin


def test_then_the_tools_dir_then_path(tmp_path: Path) -> None:
    tools = fake_kilroy(tmp_path / "tools").parent
    on_path = fake_kilroy(tmp_path / "path").parent
    s = settings(tmp_path, tools_dir=tools, search_path=f"/nonexistent:{on_path}")
    assert find_kilroy(s, {}).path == tools / "kilroy"
    s = settings(tmp_path, search_path=f"/nonexistent:{on_path}")
    assert find_kilroy(s, {}).path == on_path / "kilroy"


def test_missing_kilroy_says_where_it_looked_and_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError) as info:
        find_kilroy(settings(tmp_path), {})
    message = str(info.value)
    assert message.startswith("kilroy not found (looked in: ")
    assert "make tools" in message
    assert "go install github.com/danshapiro/kilroy/cmd/kilroy@v0.1.0" in message
    assert "FACTORYOS_KILROY" in message


def test_an_explicit_path_that_does_not_exist_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    tools = fake_kilroy(tmp_path / "tools").parent
    with pytest.raises(ToolMissingError, match="FACTORYOS_KILROY points at"):
        find_kilroy(settings(tmp_path, tools_dir=tools), {"FACTORYOS_KILROY": "/no/such/kilroy"})


def test_a_newer_version_is_accepted_with_a_warning(tmp_path: Path) -> None:
    tools = fake_kilroy(tmp_path / "tools", "kilroy 0.2.3").parent
    found = find_kilroy(settings(tmp_path, tools_dir=tools), {})
    assert found.version == "0.2.3"
    assert found.warning is not None and "newer" in found.warning


def test_an_older_version_is_refused(tmp_path: Path) -> None:
    tools = fake_kilroy(tmp_path / "tools", "kilroy 0.0.9").parent
    with pytest.raises(ToolMissingError, match="older than the pinned"):
        find_kilroy(settings(tmp_path, tools_dir=tools), {})


@pytest.mark.parametrize(
    ("line", "code"), [("something else 1.0", 0), (f"kilroy {PINNED_VERSION}", 3)]
)
def test_a_binary_that_does_not_answer_like_kilroy_is_refused(
    tmp_path: Path, line: str, code: int
) -> None:
    tools = fake_kilroy(tmp_path / "tools", line, code).parent
    with pytest.raises(ToolMissingError, match="does not look like kilroy"):
        find_kilroy(settings(tmp_path, tools_dir=tools), {})


def test_a_file_that_cannot_run_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "kilroy").write_text("not a program")
    (folder / "kilroy").chmod(0o755)
    with pytest.raises(ToolMissingError, match="not runnable"):
        find_kilroy(settings(tmp_path, tools_dir=folder), {})


@pytest.mark.parametrize(
    ("output", "version"),
    [("kilroy 0.1.0\n", "0.1.0"), ("kilroy v0.2.0-rc1", "0.2.0-rc1"), ("kilroy", None), ("", None)],
)
def test_version_output(output: str, version: str | None) -> None:
    assert parse_version_output(output) == version


# -- the remembered version ---------------------------------------------------------------------


def counting_kilroy(folder: Path, version: str = PINNED_VERSION) -> tuple[Path, Path]:
    """A fake kilroy that counts its ``--version`` runs in a file next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    path, runs = folder / "kilroy", folder / "runs"
    path.write_text(f"#!/bin/sh\necho x >> '{runs}'\necho 'kilroy {version}'\n")
    path.chmod(0o755)
    return path, runs


def runs_of(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binaries written by the test count as settled at once."""
    monkeypatch.setattr(version_cache, "SETTLE_SECONDS", 0.0)


@pytest.mark.usefixtures("settled")
def test_an_unchanged_binary_answers_its_version_once(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    _, runs = counting_kilroy(tools, "0.2.0")
    s = settings(tmp_path, tools_dir=tools)
    first, second = find_kilroy(s, {}), find_kilroy(s, {})
    assert runs_of(runs) == 1
    assert second == first
    assert second.version == "0.2.0" and second.warning is not None  # newer: still warned


@pytest.mark.usefixtures("settled")
def test_a_rewritten_binary_is_asked_again(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    counting_kilroy(tools)
    s = settings(tmp_path, tools_dir=tools)
    find_kilroy(s, {})
    counting_kilroy(tools, "0.0.9-old")  # another build in the same place
    with pytest.raises(ToolMissingError, match="older than the pinned"):
        find_kilroy(s, {})


def test_a_binary_written_just_now_is_not_remembered(tmp_path: Path) -> None:
    """Its time stamps could survive a rewrite within their granularity."""
    tools = tmp_path / "tools"
    _, runs = counting_kilroy(tools)
    s = settings(tmp_path, tools_dir=tools)
    find_kilroy(s, {})
    find_kilroy(s, {})
    assert runs_of(runs) == 2


@pytest.mark.usefixtures("settled")
def test_an_unreadable_cache_is_not_used(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    _, runs = counting_kilroy(tools)
    s = settings(tmp_path, tools_dir=tools)
    s.kilroy_state_dir.mkdir(parents=True)
    (s.kilroy_state_dir / version_cache.CACHE_FILE).write_text("{not json")
    assert find_kilroy(s, {}).version == PINNED_VERSION
    assert find_kilroy(s, {}).version == PINNED_VERSION
    assert runs_of(runs) == 1  # the broken file was replaced by a good one
