"""A fake cloud upstream for the voice tests: Deepgram's and OpenAI's shapes, by path prefix.

``/limited/...`` answers 429 with Retry-After, ``/slow/...`` takes 1.5 s,
``/down/...`` answers 503, ``/ok/...`` answers like the real service.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

RESULT = {"results": {"channels": [{"alternatives": [{"transcript": "open the pod bay doors",
          "words": [{"word": "open", "start": 0.0, "end": 0.3}]}]}]}}  # fmt: skip


class Upstream(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        Upstream.seen.append((self.path.split("?")[0], self.headers.get("authorization") or ""))
        if self.path.startswith("/limited/"):
            self._reply(429, {"err_msg": "slow down"}, {"Retry-After": "3"})
        elif self.path.startswith("/slow/"):
            time.sleep(1.5)
            self._reply(200, RESULT)
        elif self.path.startswith("/down/"):
            self._reply(503, {"error": {"message": "upstream down"}})
        elif self.path.startswith("/ok/v1/listen"):
            self._reply(200, RESULT)
        elif self.path.startswith("/ok/v1/audio/speech"):
            self._reply(200, b"RIFF" + b"\x00" * 20 + (24000).to_bytes(4, "little") + b"\x00" * 16)
        else:
            self._reply(404, {"error": {"message": f"no route {self.path}"}})

    def _reply(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_upstream() -> Iterator[str]:
    """The fake on a free port of 127.0.0.1; yields its base URL."""
    Upstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
