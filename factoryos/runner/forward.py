"""``EventForwarder``: sends a run's events to the factory server, in order, resumably.

On a cluster the runner's event log is on the run's volume; the dashboard
keeps a copy it can stream (``factoryos.events.mirror``). The forwarder, a
thread in the runner, asks the server where its copy ends, then posts the
complete lines after that as NDJSON batches. A refused batch (409) carries
the sequence the server expects, and the forwarder goes on from there; a
failed post is retried with backoff, so a dashboard that restarts or is
briefly away loses nothing. ``close`` sends what is left before the runner
exits. The controller never depends on this: it reads stage progress from
the progress ConfigMap.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from factoryos.events.log import read_from

#: Environment variables the operator sets on runner Jobs.
EVENTS_URL_ENV = "FACTORYOS_EVENTS_URL"
EVENTS_TOKEN_ENV = "FACTORYOS_EVENTS_TOKEN"  # noqa: S105 - a variable name
#: Lines per post.
BATCH = 500


def ingest_url(base: str, namespace: str, run: str, stream: str | None = None) -> str:
    """Where the dashboard takes the events of ``namespace/run``: the run's one log, or, when
    each workload has its own volume, the stream of this volume (``events.streams``)."""
    url = f"{base.rstrip('/')}/api/ingest/runs/{quote(namespace)}/{quote(run)}/events"
    return f"{url}?stream={quote(stream)}" if stream else url


class EventForwarder:
    """Follows ``events_path`` and posts what the server does not have yet."""

    def __init__(
        self,
        events_path: Path,
        url: str,
        token: str,
        *,
        interval: float = 0.05,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.events_path = events_path
        self.url = url
        self.interval = interval
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}"}, timeout=10.0, transport=transport
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="event-forwarder", daemon=True)
        self._offset = 0
        self._acked: int | None = None  # the server's last sequence, once known
        self._sent_through = 0
        self._pending: list[tuple[int, bytes]] = []
        self.failures = 0
        self._abandoned = False

    @property
    def acked(self) -> int:
        return self._acked or 0

    def start(self) -> EventForwarder:
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> bool:
        """Send what is left (for up to ``timeout`` seconds); True when the server has it all."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandoned = True  # the thread ends (and closes its client) at its next turn
            return False
        return not self._pending

    def _loop(self) -> None:
        try:
            self._forward()
        finally:
            self._client.close()

    def _forward(self) -> None:
        delay = self.interval
        while not self._abandoned:
            stopping = self._stop.is_set()
            try:
                self._step()
                ok = True
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                ok = False
                self.failures += 1
                if self.failures in {1, 10} or self.failures % 100 == 0:
                    print(f"runner: sending events failed ({exc}); retrying", file=sys.stderr)
            if stopping and ok and not self._pending and self._caught_up():
                return
            delay = self.interval if ok else min(max(delay * 2, 0.2), 5.0)
            if stopping:
                time.sleep(0 if ok else delay)
            else:
                self._stop.wait(delay)

    def _caught_up(self) -> bool:
        try:
            size = self.events_path.stat().st_size
        except FileNotFoundError:
            return True
        return self._offset >= size

    def _step(self) -> None:
        if self._acked is None:
            response = self._client.get(self.url)
            response.raise_for_status()
            self._acked = int(response.json()["next"])
        events, self._offset = read_from(self.events_path, self._offset)
        self._pending += [
            (e.sequence, e.to_json_line().encode()) for e in events if e.sequence > self.acked
        ]
        while self._pending:
            batch = self._pending[:BATCH]
            response = self._client.post(
                self.url,
                content=b"\n".join(raw for _, raw in batch) + b"\n",
                headers={"Content-Type": "application/x-ndjson"},
            )
            if response.status_code == 409:
                self._acked = int(response.json()["next"])  # it has less (or more) than we think
                self._pending = [(s, raw) for s, raw in self._pending if s > self.acked]
                if self._pending and self._pending[0][0] != self.acked + 1:
                    self._offset, self._pending = 0, []  # start over from the log
                    return
                continue
            response.raise_for_status()
            self._acked = int(json.loads(response.content)["next"])
            self._pending = [(s, raw) for s, raw in self._pending if s > self.acked]
