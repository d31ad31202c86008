"""Benchmark: speech to text and text to speech on this machine, ours next to the plain calls.

Each variant runs in a fresh Python process (so its peak memory is its own):
the plain library call (faster-whisper's ``WhisperModel.transcribe``, Piper's
``synthesize_wav``) and Factory OS's provider around it (``WhisperSpeechToText``,
``PiperTextToSpeech``), and for speech to text also a request through the voice
service (in process, over ASGI). Reported: load time, the median of
``--rounds`` timed runs after a warm-up, the real-time factor (processing time /
audio duration; below 1 is faster than real time) and peak RSS. Models: the
``voice`` extra's (Whisper tiny.en int8, the Piper "joe" voice) unless
FACTORYOS_WHISPER_MODEL / FACTORYOS_PIPER_VOICE say otherwise. On a machine
with a CUDA GPU the speech-to-text variants also run there.

    make bench      # or: .venv/bin/python bench/voice.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TEXT = (
    "The factory builds four candidates at once. Each one is screened by its tests, "
    "the best is chosen on hidden scenarios, and it is merged only when the statistics "
    "say it is good enough. Then the next goal begins."
)

CHILD = r"""
import io, json, resource, statistics, sys, time, wave
variant, wav_path, text, rounds, device = sys.argv[1:6]
rounds = int(rounds)
audio = open(wav_path, "rb").read()
with wave.open(io.BytesIO(audio)) as w:
    seconds = w.getnframes() / w.getframerate()
t0 = time.perf_counter()
if variant == "plain-whisper":
    import os
    os.environ["HF_HUB_OFFLINE"] = "1"
    from faster_whisper import WhisperModel
    from factoryos.voice.offline import WhisperSpeechToText, choose_compute
    dev, compute = choose_compute(device)
    model = WhisperModel(str(WhisperSpeechToText(env=os.environ).model_dir), device=dev,
                         compute_type=compute, local_files_only=True)
    run = lambda: " ".join(s.text for s in model.transcribe(io.BytesIO(audio), language="en",
                                                             beam_size=5)[0])
elif variant == "ours-whisper":
    import os
    from factoryos.voice.offline import WhisperSpeechToText
    stt = WhisperSpeechToText(env=os.environ, device=device)
    stt.device
    run = lambda: stt.transcribe(audio, language="en").text
elif variant == "service-whisper":
    import os
    from starlette.testclient import TestClient
    from factoryos.voice import FallbackSpeechToText, FallbackTextToSpeech
    from factoryos.voice.offline import PiperTextToSpeech, WhisperSpeechToText
    from factoryos.voice.service import create_voice_app
    stt = WhisperSpeechToText(env=os.environ, device=device)
    stt.device
    client = TestClient(create_voice_app(FallbackSpeechToText([(stt, 600)]),
                                         FallbackTextToSpeech([(PiperTextToSpeech(), 600)]),
                                         token=None, insecure=True))  # in-process only
    run = lambda: client.post("/v1/transcribe?language=en", content=audio,
                              headers={"Content-Type": "audio/wav"}).json()["text"]
elif variant == "plain-piper":
    import os
    from piper import PiperVoice
    from factoryos.voice.offline import PiperTextToSpeech
    voice = PiperVoice.load(str(PiperTextToSpeech(env=os.environ).voice_path))
    def run():
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            voice.synthesize_wav(text, w)
        return len(out.getvalue())
elif variant == "ours-piper":
    import os
    from factoryos.voice.offline import PiperTextToSpeech
    tts = PiperTextToSpeech(env=os.environ)
    tts._load()
    run = lambda: len(tts.synthesize(text).data)
loaded = time.perf_counter() - t0
out = run()  # warm-up
times = []
for _ in range(rounds):
    t = time.perf_counter(); out = run(); times.append(time.perf_counter() - t)
took = statistics.median(times)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"variant": variant, "load": loaded, "seconds": took, "audio": seconds,
                  "rtf": took / seconds, "rss_mb": peak,
                  "out": out if isinstance(out, str) else None}))
"""


def measure(variant: str, wav: Path, rounds: int, device: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(wav), TEXT, str(rounds), device],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{variant} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def show(rows: list[dict[str, object]]) -> None:
    print(f"{'variant':<22}{'load s':>8}{'run s':>8}{'RTF':>8}{'peak RSS MB':>13}")
    for r in rows:
        print(f"{r['variant']!s:<22}{float(r['load']):>8.2f}{float(r['seconds']):>8.3f}"  # type: ignore[arg-type]
              f"{float(r['rtf']):>8.3f}{float(r['rss_mb']):>13.0f}")  # type: ignore[arg-type]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from factoryos.voice.offline import PiperTextToSpeech, choose_compute

    with tempfile.TemporaryDirectory(prefix="factoryos-bench-voice-") as tmp:
        wav = Path(tmp) / "speech.wav"
        wav.write_bytes(PiperTextToSpeech(deterministic=True).synthesize(TEXT).data)
        devices = ["cpu"] + (["cuda"] if choose_compute("auto")[0] == "cuda" else [])
        for device in devices:
            rows = [measure(v, wav, args.rounds, device)
                    for v in ("plain-whisper", "ours-whisper", "service-whisper")]  # fmt: skip
            print(f"-- speech to text on {device} ({rows[0]['audio']:.1f} s of audio)")
            show(rows)
            plain, ours, service = (float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
            print(f"   our provider / plain: {ours / plain:.2f}x; the service / plain: "
                  f"{service / plain:.2f}x")  # fmt: skip
        if len(devices) == 1:
            print("   (no CUDA GPU here: the GPU rows run where ctranslate2 sees one)")
        rows = [measure(v, wav, args.rounds, "cpu") for v in ("plain-piper", "ours-piper")]
        print("-- text to speech on cpu")
        show(rows)
        plain, ours = (float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
        print(f"   our provider / plain: {ours / plain:.2f}x")


if __name__ == "__main__":
    main()
