"""The follower yields every complete line once, in order, and ends when the process has."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from factoryos.kilroy import follow_progress, follow_progress_lines


class FakeProcess:
    def __init__(self, progress_after: int = 0) -> None:
        self.progress_after = progress_after
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


def writer(path: Path, process: FakeProcess, count: int) -> None:
    with path.open("ab", buffering=0) as fh:
        for i in range(count):
            raw = json.dumps({"event": "e", "i": i}).encode() + b"\n"
            fh.write(raw[:5])  # a torn write the reader may see
            time.sleep(0.001)
            fh.write(raw[5:])
        fh.write(b'{"event": "half')  # the process dies mid-line
    process.code = 0


def test_every_line_once_in_order_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "progress.ndjson"
    process = FakeProcess()
    thread = threading.Thread(target=writer, args=(path, process, 200))
    thread.start()
    seen = [ev["i"] for ev in follow_progress(tmp_path, process, poll_interval=0.001)]
    thread.join()
    assert seen == list(range(200))


def test_lines_from_an_earlier_invocation_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "progress.ndjson").write_text('{"event": "old"}\n{"event": "new"}\n')
    process = FakeProcess(progress_after=1)
    process.code = 1
    assert [ev["event"] for ev in follow_progress(tmp_path, process)] == ["new"]


def test_a_terminal_line_ends_the_follow(tmp_path: Path) -> None:
    (tmp_path / "progress.ndjson").write_text(
        '{"event": "a"}\n{"event": "run_completed", "status": "success"}\n{"event": "late"}\n'
    )
    events = [ev["event"] for ev in follow_progress(tmp_path, FakeProcess())]
    assert events == ["a", "run_completed"]


def test_should_stop_returns_early_without_touching_the_process(tmp_path: Path) -> None:
    (tmp_path / "progress.ndjson").write_text('{"event": "a"}\n')
    process = FakeProcess()
    started = time.monotonic()
    events = list(follow_progress(tmp_path, process, should_stop=lambda: True))
    assert [ev["event"] for ev in events] == ["a"]
    assert process.code is None
    assert time.monotonic() - started < 1


def test_following_again_after_an_early_return_picks_up_where_it_left_off(tmp_path: Path) -> None:
    path = tmp_path / "progress.ndjson"
    path.write_text('{"event": "a"}\n')
    process = FakeProcess()
    first = list(follow_progress_lines(tmp_path, process, should_stop=lambda: True))
    assert first == [(1, {"event": "a"})]
    path.write_text('{"event": "a"}\n{"event": "b"}\n')
    process.code = 0
    assert list(follow_progress_lines(tmp_path, process, after=first[-1][0])) == [
        (2, {"event": "b"})
    ]
