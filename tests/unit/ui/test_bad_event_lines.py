"""Generated bad event lines: the ingest endpoint and the readers answer as documented.

Runners send NDJSON batches to ``/api/ingest/runs/<ns>/<run>/events`` (cluster
mode). A batch mixing valid events with mutated ones (a field of the wrong type,
one missing, one unknown, another run's source, a skipped sequence), random
JSON, random and non-UTF-8 bytes and huge lines gets 200, 409, 413 or 422 with
the one error shape, never a server error, and a refused batch leaves the copy as
it was. A run's own log damaged the same way still serves its events (the bad
lines skipped) on ``GET .../events``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_support import BEARER, keyed_client, make_site

from factoryos.events import EventLog, EventType, read_events, run_source, run_token

KEY = "ingest-key"
URL = "/api/ingest/runs/default/r1/events"
RUNNER = {"Authorization": f"Bearer {run_token(KEY, 'default', 'r1')}"}


class Ingesting:
    def __init__(self, root: Path) -> None:
        site = make_site(root)
        self.client = keyed_client(site, KEY)
        self.copy = site.run_dir("r1").events
        self.copy.unlink()
        source = EventLog(root / "runner" / "events.ndjson", run_source("p", "r1"))
        for i in range(40):
            source.append(EventType.LOG, {"message": f"m{i}"})
        self.valid = [json.loads(line) for line in source.path.read_text().splitlines()]


@pytest.fixture(scope="module")
def ingesting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingesting]:
    made = Ingesting(tmp_path_factory.mktemp("ingest"))
    with made.client:
        yield made


BAD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.just("x" * 100_000),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@st.composite
def lines(draw: st.DrawFn, valid: list[dict[str, Any]]) -> bytes:
    event = dict(draw(st.sampled_from(valid)))
    how = draw(st.sampled_from(["valid", "value", "drop", "extra", "source", "json", "bytes"]))
    if how == "value":
        event[draw(st.sampled_from(sorted(event)))] = draw(BAD)
    elif how == "drop":
        del event[draw(st.sampled_from(sorted(event)))]
    elif how == "extra":
        event[draw(st.text(min_size=1, max_size=6))] = draw(BAD)
    elif how == "source":
        event["source"] = "/products/p/runs/" + draw(st.text(max_size=10))
    elif how == "json":
        return json.dumps(draw(BAD)).encode()
    elif how == "bytes":
        return draw(st.binary(max_size=60)) + draw(st.sampled_from([b"", b"\xff", b"\xc3("]))
    return json.dumps(event).encode()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_bad_batch_is_refused_as_documented_and_writes_nothing(
    ingesting: Ingesting, data: st.DataObject
) -> None:
    batch = data.draw(st.lists(lines(ingesting.valid), min_size=1, max_size=5))
    stream = data.draw(st.sampled_from([None, "c0", "e1", "../x", "", "c" * 300]))
    before = ingesting.copy.read_bytes() if ingesting.copy.exists() else b""
    response = ingesting.client.post(
        URL, params={"stream": stream} if stream is not None else None,
        content=b"\n".join(batch), headers=RUNNER,
    )  # fmt: skip
    assert response.status_code in {200, 409, 413, 422}, (response.status_code, response.text)
    body = response.json()
    if response.status_code == 200:
        assert isinstance(body["next"], int)
        return
    assert isinstance(body["detail"], str) and "\n" not in body["detail"], body
    if stream is None:
        assert ingesting.copy.read_bytes() == before if before else not ingesting.copy.exists()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_log_still_serves_its_good_events(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    root = tmp_path_factory.mktemp("damaged")
    log = EventLog(root / "events.ndjson", run_source("p", "r1"))
    for i in range(6):
        log.append(EventType.LOG, {"message": f"m{i}"})
    good = log.path.read_bytes().splitlines()
    valid = [json.loads(line) for line in good]
    junk = data.draw(st.lists(lines(valid), min_size=1, max_size=6))
    mixed = [*good]
    for line in junk:
        mixed.insert(data.draw(st.integers(0, len(mixed))), line.replace(b"\n", b" "))
    log.path.write_bytes(b"\n".join(mixed) + b"\n")
    events = read_events(log.path)
    assert {e.id for e in events} >= {e["id"] for e in valid}, "every good event is read"


def test_the_dashboard_serves_a_damaged_log(ingesting: Ingesting, tmp_path: Path) -> None:
    site_log = ingesting.copy
    site_log.parent.mkdir(parents=True, exist_ok=True)
    good = [json.dumps(e).encode() for e in ingesting.valid[:3]]
    site_log.write_bytes(
        b"\n".join([good[0], b"{not json", b"\xff\xfe", b"[1]", *good[1:]]) + b"\n"
    )
    response = ingesting.client.get("/api/runs/default/r1/events", headers=BEARER)
    assert response.status_code == 200
    assert [e["sequence"] for e in response.json()["events"]] == [1, 2, 3]
