"""The voice service on the local models: REST both ways, the streaming WebSocket, sf voice."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from factoryos.voice import FallbackSpeechToText, FallbackTextToSpeech
from factoryos.voice.offline import PiperTextToSpeech, WhisperSpeechToText
from factoryos.voice.service import create_voice_app
from factoryos.voice.wer import word_error_rate

#: Slow, 13 s for the module (the offline models, loaded and run): not in `make test-fast`.
pytestmark = pytest.mark.slow

SAID = "The quick brown fox jumps over the lazy dog near the river bank."
AUTH = {"Authorization": "Bearer voice-token"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    stt = FallbackSpeechToText([(WhisperSpeechToText(env={}), 60.0)])
    tts = FallbackTextToSpeech([(PiperTextToSpeech(env={}, deterministic=True), 60.0)])
    app = create_voice_app(stt, tts, token="voice-token", partial_seconds=1.0)
    return TestClient(app)


def test_rest_speaks_and_listens(client: TestClient) -> None:
    spoken = client.post("/v1/synthesize", json={"text": SAID}, headers=AUTH)
    assert spoken.status_code == 200 and spoken.headers["content-type"] == "audio/wav"
    assert spoken.headers["x-provider"] == "piper" and spoken.headers["x-sample-rate"] == "22050"
    heard = client.post(
        "/v1/transcribe?language=en", content=spoken.content,
        headers={**AUTH, "Content-Type": "audio/wav"},
    )  # fmt: skip
    body = heard.json()
    assert heard.status_code == 200 and body["provider"] == "faster-whisper"
    assert word_error_rate(SAID, body["text"]) <= 0.15, body["text"]
    assert body["segments"] and body["skipped"] == []
    caps = client.get("/v1/capabilities", headers=AUTH).json()
    assert caps["stt"][0]["local"] is True and caps["tts"][0]["name"] == "piper"


def test_everything_but_the_health_check_needs_the_token(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"
    assert client.post("/v1/synthesize", json={"text": "hi"}).status_code == 401
    with client.websocket_connect("/v1/stream") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401
    empty = client.post("/v1/transcribe", content=b"", headers=AUTH)
    assert empty.status_code == 422


def test_streaming_audio_in_gives_partial_then_final_transcripts_and_audio_out(
    client: TestClient,
) -> None:
    spoken = client.post("/v1/synthesize", json={"text": SAID}, headers=AUTH).content
    with wave.open(io.BytesIO(spoken)) as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    chunk = rate  # half a second of 16-bit mono
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_text(json.dumps({"op": "start", "sampleRate": rate, "language": "en"}))
        partials, unheard = [], 0
        for offset in range(0, len(pcm), chunk):
            piece = pcm[offset : offset + chunk]
            ws.send_bytes(piece)
            unheard += len(piece)
            if unheard >= 2 * rate:  # a partial for every second (2 bytes a sample) of audio
                partials.append(ws.receive_json())
                unheard = 0
        ws.send_text(json.dumps({"op": "end"}))
        final = ws.receive_json()
        assert partials and all(p["kind"] == "transcript" and not p["final"] for p in partials)
        assert final["final"] is True and word_error_rate(SAID, final["text"]) <= 0.15

        ws.send_text(json.dumps({"op": "say", "text": "First sentence. Second one!"}))
        frames = [ws.receive_bytes(), ws.receive_bytes()]
        assert ws.receive_json() == {"kind": "audio-end"}
        assert all(f[:4] == b"RIFF" for f in frames)


def test_sf_voice_says_and_transcribes(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    sf = [sys.executable, "-m", "factoryos.cli.app", "voice"]
    said = subprocess.run([*sf, "say", SAID, "-o", str(out)], capture_output=True, text=True)
    assert said.returncode == 0, said.stderr
    assert "by piper" in said.stderr and out.read_bytes()[:4] == b"RIFF"
    heard = subprocess.run(
        [*sf, "transcribe", str(out), "-l", "en", "-o", "json"], capture_output=True, text=True
    )
    assert heard.returncode == 0, heard.stderr
    assert word_error_rate(SAID, json.loads(heard.stdout)["text"]) <= 0.15


def test_bad_input_gets_a_clear_4xx(client: TestClient, tmp_path: Path) -> None:
    def post(body: bytes, kind: str = "audio/wav") -> tuple[int, str]:
        r = client.post("/v1/transcribe", content=body, headers={**AUTH, "Content-Type": kind})
        return r.status_code, r.json()["detail"]

    assert post(b"") == (422, "the audio is empty")
    status, detail = post(b"this is not audio at all")
    assert status == 422 and "not a readable WAV" in detail
    status, detail = post(b"%PDF-1.7", "application/pdf")
    assert status == 415 and "unsupported audio type" in detail
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(96_000)
        w.writeframes(b"\x00\x00" * 100)
    status, detail = post(out.getvalue())
    assert status == 422 and "sample rate 96000" in detail
    too_long = client.post("/v1/synthesize", json={"text": "x" * 5001}, headers=AUTH)
    assert too_long.status_code == 422
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_text(json.dumps({"op": "start", "sampleRate": 4000}))
        assert "sample rate 4000" in ws.receive_json()["detail"]
    junk = tmp_path / "notes.wav"
    junk.write_text("not audio")
    done = subprocess.run(
        [sys.executable, "-m", "factoryos.cli.app", "voice", "transcribe", str(junk)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and "not a readable WAV" in done.stderr
