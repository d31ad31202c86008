"""Voice holdout scenarios: the harness speaks a prompt to a candidate and checks what it says back.

Two candidates serve ``/voice`` on $PORT: a parrot that answers with the audio
it was sent (so the answer is the prompt) and a mute one that answers with
silence. Real Piper speaks the prompt and real faster-whisper transcribes the
answer.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from factoryos.evals.harness import Harness, ServiceSpec
from factoryos.evals.scenarios import load_scenarios
from factoryos.voice import FallbackSpeechToText, FallbackTextToSpeech
from factoryos.voice.offline import PiperTextToSpeech, WhisperSpeechToText

SERVER = """
import io, os, sys, wave
from http.server import BaseHTTPRequestHandler, HTTPServer
MUTE = "--mute" in sys.argv

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        audio = self.rfile.read(int(self.headers["Content-Length"]))
        if MUTE:
            out = io.BytesIO()
            with wave.open(out, "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
                w.writeframes(b"\\x00\\x00" * 16000)
            audio = out.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(audio)))
        self.end_headers()
        self.wfile.write(audio)

    def do_GET(self):
        self.send_response(200); self.end_headers()

    def log_message(self, *a):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def voice() -> tuple[FallbackTextToSpeech, FallbackSpeechToText]:
    tts = FallbackTextToSpeech([(PiperTextToSpeech(env={}, deterministic=True), 60.0)])
    stt = FallbackSpeechToText([(WhisperSpeechToText(env={}), 60.0)])
    return tts, stt


def _scenario(folder: Path) -> Path:
    folder.mkdir()
    (folder / "ask.yaml").write_text(
        textwrap.dedent("""
        id: ask-the-time
        pool: acceptance
        interaction: {voice: {say: "Please turn on the kitchen lights.", endpoint: /voice}}
        expect:
          transcript_contains: [kitchen, lights]
          transcript: "Please turn on the kitchen lights."
          max_wer: 0.2
    """)
    )
    return folder


@pytest.mark.slow
def test_a_candidate_that_answers_right_passes_and_a_mute_one_fails(
    tmp_path: Path, voice: tuple[FallbackTextToSpeech, FallbackSpeechToText]
) -> None:
    (tmp_path / "candidate").mkdir()
    (tmp_path / "candidate" / "serve.py").write_text(SERVER)
    scenarios = load_scenarios(_scenario(tmp_path / "holdouts"))
    env = {"PATH": "/usr/bin:/bin"}

    parrot = Harness(tmp_path / "candidate", env, ServiceSpec(f"{sys.executable} serve.py"), voice)
    (good,) = parrot.run(scenarios)
    assert good.passed, good.reason

    mute = Harness(
        tmp_path / "candidate", env, ServiceSpec(f"{sys.executable} serve.py --mute"), voice
    )
    (bad,) = mute.run(scenarios)
    assert not bad.passed and bad.reason == "the answer lacks expected words #1"
