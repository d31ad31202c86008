"""Runners' events reaching the dashboard on a cluster: the copy, the forwarder, the endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from ui_support import BEARER, keyed_client, make_site

from factoryos.errors import InvalidInputError
from factoryos.events import (
    EventLog,
    EventType,
    SequenceGapError,
    mirror_append,
    read_events,
    run_source,
    run_token,
)
from factoryos.runner.forward import EventForwarder, ingest_url

KEY = "ingest-key"


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


@pytest.fixture
def source_log(tmp_path: Path) -> EventLog:
    log = EventLog(tmp_path / "volume" / "events.ndjson", run_source("p", "r1"))
    for i in range(5):
        log.append(EventType.LOG, {"message": f"m{i}"})
    return log


def test_the_copy_takes_what_continues_it(tmp_path: Path, source_log: EventLog) -> None:
    lines = _lines(source_log.path)
    copy = tmp_path / "copy" / "events.ndjson"
    assert mirror_append(copy, "r1", lines[:3]) == 3
    assert mirror_append(copy, "r1", lines[:4]) == 4, "a resend adds only what is new"
    assert mirror_append(copy, "r1", lines[:2]) == 4
    with pytest.raises(SequenceGapError) as gap:
        mirror_append(copy, "r1", [lines[4].replace(b'"sequence":5', b'"sequence":9')])
    assert gap.value.expected == 5
    assert mirror_append(copy, "r1", lines) == 5
    assert copy.read_bytes() == source_log.path.read_bytes()


def test_the_copy_refuses_other_runs_and_non_events(tmp_path: Path, source_log: EventLog) -> None:
    copy = tmp_path / "copy.ndjson"
    with pytest.raises(InvalidInputError, match="another run"):
        mirror_append(copy, "r2", _lines(source_log.path))
    with pytest.raises(InvalidInputError, match="not an event"):
        mirror_append(copy, "r1", [b'{"hello": 1}'])
    assert not copy.exists() or copy.read_bytes() == b""


def _ingesting_site(tmp_path: Path) -> tuple[TestClient, Path]:
    site = make_site(tmp_path)
    copy = site.run_dir("r1").events
    copy.unlink()  # the dashboard's copy starts empty; the runner's log is elsewhere
    return keyed_client(site, KEY), copy


def test_the_endpoint_needs_the_runs_own_token(tmp_path: Path) -> None:
    client, _ = _ingesting_site(tmp_path)
    url = "/api/ingest/runs/default/r1/events"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=BEARER).status_code == 401, "the dashboard token is not it"
    other = {"Authorization": f"Bearer {run_token(KEY, 'default', 'r2')}"}
    assert client.get(url, headers=other).status_code == 401
    mine = {"Authorization": f"Bearer {run_token(KEY, 'default', 'r1')}"}
    assert client.get(url, headers=mine).json() == {"next": 0}
    unknown = "/api/ingest/runs/default/nope/events"
    nope = {"Authorization": f"Bearer {run_token(KEY, 'default', 'nope')}"}
    assert client.get(unknown, headers=nope).status_code == 404
    off = make_site(tmp_path / "off").client
    assert off.get(url, headers=mine).status_code == 404, "ingest is off without a key"


def test_the_forwarder_sends_everything_in_order_across_failures(
    tmp_path: Path, source_log: EventLog
) -> None:
    client, copy = _ingesting_site(tmp_path)
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] in {2, 3}:  # the dashboard is briefly away
            return httpx.Response(503)
        response = client.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        return httpx.Response(response.status_code, content=response.content)

    token = run_token(KEY, "default", "r1")
    url = ingest_url("http://dashboard/", "default", "r1")
    forwarder = EventForwarder(
        source_log.path, url, token, interval=0.01, transport=httpx.MockTransport(flaky)
    ).start()
    for i in range(20):
        source_log.append(EventType.LOG, {"message": f"later {i}"})
    assert forwarder.close(timeout=30)
    assert forwarder.failures >= 2
    assert copy.read_bytes() == source_log.path.read_bytes()
    assert [e.sequence for e in read_events(copy)] == list(range(1, 26))


def test_a_forwarder_restarted_mid_run_resumes_where_the_copy_ends(
    tmp_path: Path, source_log: EventLog
) -> None:
    client, copy = _ingesting_site(tmp_path)
    token = run_token(KEY, "default", "r1")
    headers = {"Authorization": f"Bearer {token}"}
    first_three = b"\n".join(_lines(source_log.path)[:3]) + b"\n"
    assert client.post("/api/ingest/runs/default/r1/events", content=first_three, headers=headers)

    def relay(request: httpx.Request) -> httpx.Response:
        response = client.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        return httpx.Response(response.status_code, content=response.content)

    forwarder = EventForwarder(
        source_log.path,
        ingest_url("http://d", "default", "r1"),
        token,
        interval=0.01,
        transport=httpx.MockTransport(relay),
    ).start()
    assert forwarder.close(timeout=30)
    assert copy.read_bytes() == source_log.path.read_bytes()
    gap = client.post(
        "/api/ingest/runs/default/r1/events",
        content=_lines(source_log.path)[4].replace(b'"sequence":5', b'"sequence":7') + b"\n",
        headers=headers,
    )
    assert gap.status_code == 409 and json.loads(gap.content)["next"] == 5
