"""The fallback chain over real HTTP: a local fake speaking Deepgram's and OpenAI's shapes.

One server on 127.0.0.1 plays three upstreams by path prefix: one rate limits
(429 with Retry-After), one is too slow (the client's timeout), one answers.
The chain must skip the first two with their reasons and return the third's
transcript. No key is real and nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from factoryos.voice import FallbackSpeechToText, FallbackTextToSpeech, VoiceError
from factoryos.voice.cloud import (
    DeepgramSpeechToText,
    ElevenLabsTextToSpeech,
    OpenAISpeechToText,
    OpenAITextToSpeech,
)

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


@pytest.fixture
def fake() -> Iterator[str]:
    Upstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rate_limits_and_timeouts_fall_through_to_the_provider_that_answers(fake: str) -> None:
    chain = FallbackSpeechToText(
        [
            (DeepgramSpeechToText("test-key", base_url=f"{fake}/limited", env={}), 5.0),
            (OpenAISpeechToText("test-key", base_url=f"{fake}/slow", env={}), 0.5),
            (DeepgramSpeechToText(env={}), 5.0),  # no key: never asked
            (DeepgramSpeechToText("test-key", base_url=f"{fake}/ok", env={}), 5.0),
        ]
    )
    started = time.monotonic()
    transcript = chain.transcribe(b"RIFF....WAVE", language="en")
    assert time.monotonic() - started < 1.4, "the slow one was cut at its timeout"
    assert transcript.text == "open the pod bay doors" and transcript.provider == "deepgram"
    reasons = [(s.provider, s.reason) for s in chain.skipped]
    assert reasons == [
        ("deepgram", "rate limited (429), retry after 3s"),
        ("openai-stt", "timed out after 0.5s"),
        ("deepgram", "no API key: set DEEPGRAM_API_KEY"),
    ]
    assert [p for p, _ in Upstream.seen][:2] == [
        "/limited/v1/listen",
        "/slow/v1/audio/transcriptions",
    ]


def test_speech_synthesis_falls_back_and_reports_when_all_fail(fake: str) -> None:
    chain = FallbackTextToSpeech(
        [
            (ElevenLabsTextToSpeech("test-key", base_url=f"{fake}/down", env={}), 5.0),
            (OpenAITextToSpeech("test-key", base_url=f"{fake}/ok", env={}), 5.0),
        ]
    )
    audio = chain.synthesize("hello")
    assert (audio.provider, audio.format, audio.sample_rate) == ("openai-tts", "wav", 24000)
    assert chain.skipped[0].reason == "HTTP 503: upstream down"
    broken = FallbackTextToSpeech(
        [(ElevenLabsTextToSpeech("test-key", base_url=f"{fake}/down", env={}), 5.0)]
    )
    with pytest.raises(VoiceError, match="elevenlabs: HTTP 503: upstream down"):
        broken.synthesize("hello")
