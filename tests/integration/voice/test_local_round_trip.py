"""Local speech, offline, on the CPU: Piper speaks, faster-whisper listens, the words match.

The models come from the ``voice`` extra's PyPI packages (Whisper tiny.en, the
Piper "joe" voice); nothing is downloaded. A missing model makes the local
provider unavailable with an install hint, and the chain falls back to a cloud
provider (a local fake here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.voice import FallbackSpeechToText, ProviderUnavailableError
from factoryos.voice.cloud import DeepgramSpeechToText
from factoryos.voice.offline import PiperTextToSpeech, WhisperSpeechToText
from factoryos.voice.wer import word_error_rate

SAID = "Please open the front door and turn on the kitchen lights before the guests arrive."


@pytest.fixture(scope="module")
def piper() -> PiperTextToSpeech:
    return PiperTextToSpeech(env={}, deterministic=True)


@pytest.fixture(scope="module")
def whisper() -> WhisperSpeechToText:
    return WhisperSpeechToText(env={})


@pytest.mark.slow
def test_speech_round_trips_with_a_low_word_error_rate(
    piper: PiperTextToSpeech, whisper: WhisperSpeechToText
) -> None:
    audio = piper.synthesize(SAID)
    assert audio.format == "wav" and audio.sample_rate == 22050 and audio.data[:4] == b"RIFF"
    transcript = whisper.transcribe(audio.data, language="en")
    assert word_error_rate(SAID, transcript.text) <= 0.15, transcript.text
    for key in ("door", "kitchen", "lights", "guests"):
        assert key in transcript.text.lower()
    assert transcript.segments and transcript.segments[0].start >= 0
    assert all(0 < (s.confidence or 0) <= 1 for s in transcript.segments)
    assert whisper.device == ("cpu", "int8"), "int8 on a CPU"
    assert "cpu/int8" in whisper.capabilities.detail


def test_deterministic_piper_output_is_byte_identical(piper: PiperTextToSpeech) -> None:
    assert (
        piper.synthesize("Same words, same bytes.").data
        == piper.synthesize("Same words, same bytes.").data
    )


def test_missing_models_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailableError, match=r"lacks model\.bin.*factoryos\[voice\]"):
        WhisperSpeechToText(tmp_path, env={}).transcribe(b"x")
    with pytest.raises(ProviderUnavailableError, match=r"Piper voice not installed"):
        PiperTextToSpeech(tmp_path / "none.onnx", env={}).synthesize("x")
    env = {"FACTORYOS_WHISPER_MODEL": str(tmp_path)}
    with pytest.raises(ProviderUnavailableError, match=str(tmp_path)):
        WhisperSpeechToText(env=env).transcribe(b"x")


def test_no_local_model_falls_back_to_the_cloud(
    fake: str, piper: PiperTextToSpeech, tmp_path: Path
) -> None:
    chain = FallbackSpeechToText(
        [
            (WhisperSpeechToText(tmp_path / "absent", env={}), 30.0),
            (DeepgramSpeechToText("test-key", base_url=f"{fake}/ok", env={}), 5.0),
        ]
    )
    transcript = chain.transcribe(piper.synthesize("hello").data)
    assert transcript.provider == "deepgram"
    (skipped,) = chain.skipped
    assert skipped.provider == "faster-whisper" and "Whisper model not installed" in skipped.reason
