"""Fallback chains: the first provider that answers wins; the others say why they were skipped."""

from __future__ import annotations

import pytest

from factoryos.voice import (
    Audio,
    Capabilities,
    FallbackSpeechToText,
    FallbackTextToSpeech,
    ProviderFailedError,
    ProviderUnavailableError,
    Transcript,
    VoiceError,
)


class Fake:
    def __init__(self, name: str, outcome: Exception | str) -> None:
        self.name, self.outcome = name, outcome
        self.timeouts: list[float] = []

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(self.name, stt=True, tts=True)

    def transcribe(
        self, audio: bytes, *, language: str | None = None, content_type: str = "audio/wav",
        timeout: float = 30.0,
    ) -> Transcript:  # fmt: skip
        self.timeouts.append(timeout)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return Transcript(self.outcome, provider=self.name)

    def synthesize(self, text: str, *, voice: str | None = None, timeout: float = 30.0) -> Audio:
        self.timeouts.append(timeout)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return Audio(self.outcome.encode(), 16000, "pcm", self.name)


def test_the_first_that_answers_wins_and_the_skipped_say_why() -> None:
    local = Fake("faster-whisper", ProviderUnavailableError("model not installed"))
    busy = Fake("deepgram", ProviderFailedError("rate limited (429)"))
    good = Fake("openai-stt", "hello")
    chain = FallbackSpeechToText([(local, 5.0), (busy, 10.0), (good, 20.0)])
    assert chain.transcribe(b"x").text == "hello"
    assert [(s.provider, s.reason) for s in chain.skipped] == [
        ("faster-whisper", "model not installed"),
        ("deepgram", "rate limited (429)"),
    ]
    assert (local.timeouts, busy.timeouts, good.timeouts) == ([5.0], [10.0], [20.0])


def test_when_none_answers_every_reason_is_in_the_error() -> None:
    chain = FallbackTextToSpeech(
        [(Fake("piper", ProviderUnavailableError("no voice")), 1.0),
         (Fake("elevenlabs", ProviderFailedError("timed out after 1s")), 1.0)]
    )  # fmt: skip
    with pytest.raises(VoiceError, match=r"piper: no voice; elevenlabs: timed out after 1s"):
        chain.synthesize("hi")
    with pytest.raises(VoiceError, match="no text-to-speech provider configured"):
        FallbackTextToSpeech([])
    assert FallbackTextToSpeech([(Fake("ok", "x"), 1.0)]).synthesize("hi").provider == "ok"
