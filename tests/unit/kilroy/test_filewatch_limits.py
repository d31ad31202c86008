"""Running out of inotify instances: said loudly, with the sysctl to raise, and measurable."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import asyncinotify
import pytest

from factoryos import filewatch
from factoryos.filewatch import (
    INSTANCE_LIMIT_SYSCTL,
    FolderWatch,
    FolderWatches,
    instance_limit,
    instances_in_use,
)


def no_instances_left() -> asyncinotify.Inotify:
    raise OSError(errno.EMFILE, "Too many open files")


def test_the_limit_is_read_from_its_setting(tmp_path: Path) -> None:
    setting = tmp_path / "max_user_instances"
    setting.write_text("128\n")
    assert instance_limit(setting) == 128
    assert instance_limit(tmp_path / "absent") is None
    setting.write_text("not a number")
    assert instance_limit(setting) is None


def fake_process(proc: Path, pid: int, links: list[str]) -> None:
    (proc / str(pid) / "fd").mkdir(parents=True)
    for fd, target in enumerate(links):
        (proc / str(pid) / "fd" / str(fd)).symlink_to(target)


def test_instances_in_use_counts_the_inotify_handles_of_the_users_processes(
    tmp_path: Path,
) -> None:
    fake_process(tmp_path, 10, ["/dev/null", "anon_inode:inotify", "anon_inode:inotify"])
    fake_process(tmp_path, 11, ["anon_inode:inotify", "socket:[1]"])
    fake_process(tmp_path, 12, ["anon_inode:[eventpoll]"])
    (tmp_path / "self").mkdir()  # not a process: skipped
    assert instances_in_use(proc=tmp_path) == 3
    assert instances_in_use(uid=os.getuid() + 1, proc=tmp_path) == 0


def test_a_handle_we_open_is_counted_on_this_machine(tmp_path: Path) -> None:
    with FolderWatch(tmp_path, {"progress.ndjson"}) as watch:
        if not watch.notifying:  # this user's instances are all taken (a shared machine)
            pytest.skip("no inotify instance left for this user")
        assert instances_in_use() >= 1


def test_a_runner_out_of_instances_warns_with_the_sysctl_and_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(filewatch, "_Descriptor", no_instances_left)
    with caplog.at_level(logging.WARNING, "factoryos.filewatch"):
        watch = FolderWatch(tmp_path, {"progress.ndjson"})
    assert not watch.notifying
    assert watch.wait(0.01) is False
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert INSTANCE_LIMIT_SYSCTL in record.getMessage()
    assert "polling instead" in record.getMessage()


def test_the_dashboard_out_of_instances_polls_every_log_it_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(asyncinotify, "Inotify", no_instances_left)
    with caplog.at_level(logging.WARNING, "factoryos.filewatch"):
        watches = FolderWatches[str]({"events.ndjson"})
    assert not watches.notifying
    assert watches.add("r", tmp_path) is False
    assert watches.unwatched == ["r"]
    assert INSTANCE_LIMIT_SYSCTL in caplog.records[0].getMessage()


def test_other_failures_warn_without_blaming_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_memory() -> asyncinotify.Inotify:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(filewatch, "_Descriptor", no_memory)
    with caplog.at_level(logging.WARNING, "factoryos.filewatch"):
        assert not FolderWatch(tmp_path, {"progress.ndjson"}).notifying
    [record] = caplog.records
    assert INSTANCE_LIMIT_SYSCTL not in record.getMessage()
    assert "Cannot allocate memory" in record.getMessage()


def test_the_fork_server_can_look_up_inotify_once_for_all_its_children() -> None:
    """``preload`` leaves the binding imported with libc found (a fork inherits both)."""
    import subprocess
    import sys

    probe = (
        "import sys; from factoryos import filewatch; "
        "assert 'inotify_simple' not in sys.modules; filewatch.preload(); "
        "print(sys.modules['inotify_simple']._libc is not None)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


#: Watches a folder as the runner does, then writes what is loaded.
RUNNER_WATCH_PROBE = """
import ctypes.util, json, sys, threading
from pathlib import Path
def no_ldconfig(name):
    raise AssertionError("find_library runs ldconfig -p")
ctypes.util.find_library = no_ldconfig
from factoryos.filewatch import FolderWatch
folder = Path(sys.argv[1])
with FolderWatch(folder, {"progress.ndjson"}) as watch:
    assert watch.notifying
    threading.Timer(0.1, (folder / "progress.ndjson").write_text, args=["{}\\n"]).start()
    assert watch.wait(30) is True
print(json.dumps(sorted(sys.modules)))
"""


def test_the_runners_watch_needs_neither_asyncio_nor_ldconfig(tmp_path: Path) -> None:
    """``asyncinotify`` would load asyncio, and ``find_library`` runs ``ldconfig`` to find
    libc; ``logging`` loads only to say why there are no notifications."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", RUNNER_WATCH_PROBE, str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    modules = set(json.loads(out.stdout))
    assert "inotify_simple" in modules
    assert not {"asyncio", "asyncinotify", "logging"} & modules


def test_a_stopped_watch_removes_its_watch_and_sleeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed before the close: a handle closed while it still watches waits for the
    kernel to free the watch."""
    inotify = filewatch._inotify_simple()
    rm = inotify.INotify.rm_watch
    removed: list[int] = []

    def remove(handle: object, watch: int) -> None:
        removed.append(watch)
        rm(handle, watch)

    monkeypatch.setattr(inotify.INotify, "rm_watch", remove)
    with FolderWatch(tmp_path, {"progress.ndjson"}) as watch:
        if not watch.notifying:
            pytest.skip("no inotify instance left for this user")
        watch.stop()
        assert len(removed) == 1
        assert not watch.notifying
        (tmp_path / "progress.ndjson").write_text("{}\n")
        assert watch.wait(0.05) is False
    assert len(removed) == 1
