"""A build runs at a lower CPU priority than the factory's own processes, session and all."""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path

import pytest

from factoryos.errors import ConfigurationError
from factoryos.kilroy.priority import (
    BUILD_NICE,
    SessionChange,
    autogroup_nice,
    lower_session,
    restore_own_session,
    restore_session,
)
from factoryos.kilroy.process import spawn
from factoryos.settings import Settings


def fake_session(proc: Path, pid: int, nice: int) -> Path:
    (proc / str(pid)).mkdir(parents=True)
    autogroup = proc / str(pid) / "autogroup"
    autogroup.write_text(f"/autogroup-7 nice {nice}\n")
    return autogroup


def leader(pid: int) -> int:
    return pid


def test_the_autogroup_line_gives_its_nice_value() -> None:
    assert autogroup_nice("/autogroup-42 nice 0\n") == 0
    assert autogroup_nice("/autogroup-42 nice 10") == 10
    assert autogroup_nice("") is None
    assert autogroup_nice("/autogroup-42 nice high") is None


def test_a_session_leaders_group_is_set_to_the_builds_nice_value(tmp_path: Path) -> None:
    autogroup = fake_session(tmp_path, 40, 0)
    assert lower_session(40, 10, proc=tmp_path, session_of=leader)
    assert autogroup.read_text() == "10"


def test_a_process_not_yet_leading_its_session_is_tried_again_later(tmp_path: Path) -> None:
    autogroup = fake_session(tmp_path, 40, 0)
    assert not lower_session(40, 10, proc=tmp_path, session_of=lambda pid: 1)
    assert autogroup_nice(autogroup.read_text()) == 0  # the starter's group is left alone


def test_a_group_already_as_low_is_left_as_it_is(tmp_path: Path) -> None:
    autogroup = fake_session(tmp_path, 40, 15)
    assert lower_session(40, 10, proc=tmp_path, session_of=leader)
    assert autogroup_nice(autogroup.read_text()) == 15


def test_a_lowered_group_is_taken_back_and_a_higher_one_left_alone(tmp_path: Path) -> None:
    lowered = fake_session(tmp_path, 40, 19)
    assert restore_session(40, 0, proc=tmp_path)
    assert lowered.read_text() == "0"
    usual = fake_session(tmp_path, 41, 0)
    assert restore_session(41, 5, proc=tmp_path)  # never lowers: that is lower_session's
    assert autogroup_nice(usual.read_text()) == 0


def test_a_process_that_does_not_lead_its_session_leaves_it_alone(tmp_path: Path) -> None:
    if os.getsid(0) == os.getpid():
        pytest.skip("this test process leads its session")
    assert restore_own_session(proc=tmp_path) is None


def test_without_autogroups_or_once_the_process_is_gone_there_is_nothing_to_do(
    tmp_path: Path,
) -> None:
    assert lower_session(40, 10, proc=tmp_path, session_of=leader)  # no such file

    def gone(pid: int) -> int:
        raise ProcessLookupError(pid)

    assert lower_session(40, 10, proc=tmp_path, session_of=gone)


@pytest.mark.parametrize(("code", "done"), [(errno.EAGAIN, False), (errno.EPERM, True)])
def test_the_kernel_asking_to_wait_is_retried_and_a_refusal_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, done: bool
) -> None:
    fake_session(tmp_path, 40, 0)

    def refuse(self: Path, data: str) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_text", refuse)
    assert lower_session(40, 10, proc=tmp_path, session_of=leader) is done


def test_lowering_retries_until_done_and_gives_up_after_its_attempts() -> None:
    answers = [False, False, True]
    tries: list[tuple[int, int]] = []

    def lower(pid: int, nice: int) -> bool:
        tries.append((pid, nice))
        return answers.pop(0)

    lowering = SessionChange(40, 10, every=0, change=lower)
    lowering.run()
    assert lowering.done.is_set()
    assert tries == [(40, 10)] * 3

    never = SessionChange(40, 10, every=0, attempts=4, change=lambda pid, nice: False)
    never.run()
    assert not never.done.is_set()


def test_a_stopped_lowering_tries_no_more() -> None:
    tries: list[int] = []

    def lower(pid: int, nice: int) -> bool:
        tries.append(pid)
        return False

    lowering = SessionChange(40, 10, every=0, change=lower)
    lowering.stop()
    lowering.run()
    assert tries == [40]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice values and /proc: Linux")
def test_a_spawned_build_and_its_session_run_at_the_lower_priority(tmp_path: Path) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    process = spawn(
        ["sleep", "30"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "err",
        nice=max(ours, BUILD_NICE),
    )
    try:
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == max(ours, BUILD_NICE)
        autogroup = Path(f"/proc/{process.pid}/autogroup")
        if autogroup.exists():  # the kernel schedules sessions as groups
            assert SessionChange(process.pid, BUILD_NICE).start().done.wait(30)
            nice = autogroup_nice(autogroup.read_text())
            assert nice is not None and nice >= BUILD_NICE
        plain = spawn(
            ["sleep", "30"],
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdout_path=tmp_path / "out",
            stderr_path=tmp_path / "err",
        )
        try:
            assert os.getpriority(os.PRIO_PROCESS, plain.pid) == ours
        finally:
            plain.send_signal(signal.SIGKILL)
            plain.wait()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_the_build_nice_value_comes_from_the_environment() -> None:
    assert Settings.from_env({}).build_nice == BUILD_NICE == 19
    assert Settings.from_env({"FACTORYOS_BUILD_NICE": "0"}).build_nice == 0
    assert Settings.from_env({"FACTORYOS_BUILD_NICE": " 7 "}).build_nice == 7
    assert Settings.from_env({"FACTORYOS_BUILD_NICE": ""}).build_nice == 19


@pytest.mark.parametrize("value", ["-1", "20", "low", "1.5"])
def test_a_build_nice_value_out_of_range_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigurationError, match="FACTORYOS_BUILD_NICE must be 0 to 19"):
        Settings.from_env({"FACTORYOS_BUILD_NICE": value})
