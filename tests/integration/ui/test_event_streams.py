"""A run's live event stream over WebSocket and SSE, against a real ``sf up``.

What a client gets must be exactly the run's event log, in order: across a
reconnect (resuming with ``after=`` or ``Last-Event-ID``) nothing is lost and
nothing repeats, and a client that connects late gets the backlog first and
then the live events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factory_support import Factory, marks_step, wait_for
from websockets.sync.client import ClientConnection, connect

from factoryos.events import EventType
from factoryos.models import StageState

#: Slow, 4-10 s a test (a dashboard and a run streaming): not in `make test-fast`.
#: Its pipelines write marks (or wait on gates) outside their candidate: no sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]

FINISHED = str(EventType.RUN_FINISHED)


@pytest.fixture
def running(factory: Factory, tmp_path: Path) -> str:
    """A run of six half-second steps, started through the API; returns its name."""
    marks = tmp_path / "marks"
    steps = {f"s{i}": marks_step(marks, f"s{i}", 0.5) for i in range(6)}
    repo = factory.repo("steady", {"pipeline": steps})
    factory.sf("product", "add", "steady", "--repo", str(repo))
    factory.up(dashboard=True)
    response = httpx.post(
        factory.dashboard + "api/runs",
        json={"product": "steady", "goal": "stream", "name": "steady-1"},
        headers=_auth(factory),
    )
    assert response.status_code == 201, response.text
    return "steady-1"


def _auth(factory: Factory) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token}"}


def _socket(factory: Factory, run: str, after: int) -> ClientConnection:
    url = factory.dashboard.replace("http://", "ws://") + f"api/runs/default/{run}/events"
    return connect(f"{url}?after={after}", additional_headers=_auth(factory), open_timeout=10)


def _events(ws: ClientConnection, *, until: int | None = None) -> Iterator[dict[str, Any]]:
    """Events from a socket (heartbeats skipped), until ``until`` of them or run.finished."""
    seen = 0
    while until is None or seen < until:
        message = json.loads(ws.recv(timeout=60))
        if message["kind"] != "event":
            continue
        seen += 1
        yield message["event"]
        if message["event"]["type"] == FINISHED:
            return


def _log_ids(factory: Factory, run: str, got: list[dict[str, Any]]) -> list[str]:
    """The log's event ids up to the run.finished a client stopped at (events may follow it:
    the control plane records the candidate's end after its runner's run.finished)."""
    ids = [e.id for e in factory.events(run)][: len(got)]
    assert factory.events(run)[len(got) - 1].type == EventType.RUN_FINISHED
    return ids


def test_websocket_resumes_after_a_reconnect_with_no_gap_and_no_repeat(
    factory: Factory, running: str
) -> None:
    got: list[dict[str, Any]] = []
    reconnects = 0
    while not got or got[-1]["type"] != FINISHED:
        after = got[-1]["sequence"] if got else 0
        with _socket(factory, running, after) as ws:  # closed after 7 events: a forced reconnect
            got.extend(_events(ws, until=7))
        reconnects += 1

    assert reconnects >= 3, "the run should span several connections"
    assert [e["sequence"] for e in got] == list(range(1, len(got) + 1))
    assert [e["id"] for e in got] == _log_ids(factory, running, got)


def test_a_late_client_gets_the_backlog_then_live_events(factory: Factory, running: str) -> None:
    factory.wait_run(
        running,
        lambda run: any(
            s.name == "s2" and s.status is StageState.RUNNING for s in run.status.stages
        ),
    )
    written = len(factory.events(running))
    assert written > 10

    with _socket(factory, running, 0) as ws:
        got = list(_events(ws))

    assert [e["sequence"] for e in got] == list(range(1, len(got) + 1))
    assert len(got) > written, "live events followed the backlog"
    assert [e["id"] for e in got] == _log_ids(factory, running, got)
    assert got[-1]["type"] == FINISHED


def test_sse_resumes_with_last_event_id(factory: Factory, running: str) -> None:
    url = factory.dashboard + f"api/runs/default/{running}/events"
    got: list[dict[str, Any]] = []
    last_id: str | None = None
    with httpx.Client(timeout=60) as client:
        while not got or got[-1]["type"] != FINISHED:
            headers = {**_auth(factory), "Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            with client.stream("GET", url, headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                for block in _sse_blocks(response.iter_lines()):
                    if "data" not in block:
                        continue
                    event = json.loads(block["data"])
                    assert block["id"] == str(event["sequence"])
                    assert block["event"] == event["type"]
                    got.append(event)
                    last_id = block["id"]
                    if len(got) % 9 == 0 or event["type"] == FINISHED:
                        break  # drop the connection; resume with Last-Event-ID

    assert [e["sequence"] for e in got] == list(range(1, len(got) + 1))
    assert [e["id"] for e in got] == _log_ids(factory, running, got)


def _sse_blocks(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    block: dict[str, str] = {}
    for line in lines:
        if not line:
            if block:
                yield block
            block = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        block[field] = value.removeprefix(" ")


def test_streams_and_the_api_need_the_token(factory: Factory, running: str) -> None:
    base = factory.dashboard
    assert httpx.get(base + "api/runs").status_code == 401
    assert (
        httpx.get(base + "api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert httpx.get(base + "api/runs", headers=_auth(factory)).status_code == 200
    url = base.replace("http://", "ws://") + f"api/runs/default/{running}/events"
    with connect(url, open_timeout=10) as ws, pytest.raises(Exception, match="4401"):
        ws.recv(timeout=10)
    stream = httpx.get(
        base + f"api/runs/default/{running}/events", headers={"Accept": "text/event-stream"}
    )
    assert stream.status_code == 401
    wait_for(lambda: factory.run(running).status.phase is not None, what="the run to start")
