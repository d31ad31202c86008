"""The follower reads a line when Kilroy writes it (a notification), and polls where it must."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from factoryos.filewatch import NOTIFY_ENV, FolderWatch
from factoryos.kilroy import follow_progress


class FakeProcess:
    progress_after = 0

    def __init__(self) -> None:
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


def write_then_finish(root: Path, process: FakeProcess, written: list[float]) -> None:
    """A progress line after a pause, then the exit and final.json (renamed in, as Kilroy does)."""
    time.sleep(0.3)
    with (root / "progress.ndjson").open("ab") as fh:
        written.append(time.monotonic())
        fh.write(json.dumps({"event": "stage_attempt_start"}).encode() + b"\n")
    time.sleep(0.3)
    process.code = 0
    (root / "final.json.tmp").write_text('{"status": "success"}')
    (root / "final.json.tmp").replace(root / "final.json")


def test_a_line_arrives_on_its_notification_not_on_the_timer(tmp_path: Path) -> None:
    """With a one-minute poll and recheck, only a notification can deliver the line in time."""
    process, written = FakeProcess(), list[float]()
    thread = threading.Thread(target=write_then_finish, args=(tmp_path, process, written))
    thread.start()
    started = time.monotonic()
    seen = []
    for event in follow_progress(tmp_path, process, poll_interval=60, recheck=60):
        seen.append((event["event"], time.monotonic()))
    ended = time.monotonic()
    thread.join()
    assert [name for name, _ in seen] == ["stage_attempt_start"]
    assert seen[0][1] - written[0] < 0.2  # read as soon as written
    assert ended - started < 5  # final.json's notification ended the follow, not the timer


def test_without_notifications_it_polls_every_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NOTIFY_ENV, "0")
    with FolderWatch(tmp_path, {"progress.ndjson"}) as watch:
        assert not watch.notifying
    process, written = FakeProcess(), list[float]()
    thread = threading.Thread(target=write_then_finish, args=(tmp_path, process, written))
    thread.start()
    events = [e["event"] for e in follow_progress(tmp_path, process, poll_interval=0.01)]
    thread.join()
    assert events == ["stage_attempt_start"]


def notifying(watch: FolderWatch) -> bool:
    return watch.notifying


def test_a_folder_made_later_is_polled_until_it_can_be_watched(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    watch = FolderWatch(root, {"progress.ndjson"})
    assert not notifying(watch)  # nothing to watch yet: wait() sleeps its timeout
    started = time.monotonic()
    assert watch.wait(0.05) is False
    assert time.monotonic() - started >= 0.05
    root.mkdir()
    assert notifying(watch)
    threading.Timer(0.2, (root / "progress.ndjson").write_text, args=["{}\n"]).start()
    started = time.monotonic()
    assert watch.wait(30) is True
    assert time.monotonic() - started < 5
    watch.close()


def test_other_files_do_not_wake_it(tmp_path: Path) -> None:
    with FolderWatch(tmp_path, {"progress.ndjson"}) as watch:
        assert watch.notifying
        (tmp_path / "other.log").write_text("x")
        assert watch.wait(0.2) is False


def test_a_busy_folder_wakes_it_once_per_settle_with_nothing_lost(tmp_path: Path) -> None:
    """After a wake-up, what is written within ``settle`` waits in the queue: a wait shorter
    than the settle time sees nothing, a longer one then gets it."""
    progress = tmp_path / "progress.ndjson"
    with FolderWatch(tmp_path, {"progress.ndjson"}, settle=30) as watch:
        if not watch.notifying:
            pytest.skip("no inotify here")
        progress.write_text("{}\n")
        assert watch.wait(30) is True
        with progress.open("a") as fh:
            fh.write("{}\n")
        assert watch.wait(0.1) is False  # woken less than 30 s ago: not again yet
    with FolderWatch(tmp_path, {"progress.ndjson"}, settle=0.2) as watch:
        assert watch.notifying  # watching from now on
        progress.write_text("{}\n")
        assert watch.wait(30) is True
        (tmp_path / "live.json").write_text("{}")  # wakes it too, within the settle time
        with progress.open("a") as fh:
            fh.write("{}\n")
        assert watch.wait(30) is True  # after the settle time, the queued line's notification


class CountingProcess(FakeProcess):
    """Counts the follower's looks at the process; exits after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.looks = 0
        self.ends = time.monotonic() + seconds

    def poll(self) -> int | None:
        self.looks += 1
        return 0 if time.monotonic() >= self.ends else None


def test_a_quiet_follow_looks_at_the_process_less_and_less_often(tmp_path: Path) -> None:
    """No line for 2.5 s: 0.1, 0.2, 0.4, 0.8 then 1 s apart (about 6 looks), not every 0.1 s
    (25): 200 runners waiting on their Kilroys' first lines took a core that way."""
    with FolderWatch(tmp_path, {"progress.ndjson"}) as watch:
        if not watch.notifying:
            pytest.skip("no inotify here")
    process = CountingProcess(2.5)
    assert list(follow_progress(tmp_path, process, poll_interval=0.05, recheck=0.1)) == []
    assert 3 <= process.looks <= 10
