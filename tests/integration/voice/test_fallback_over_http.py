"""The fallback chain over real HTTP: a local fake speaking Deepgram's and OpenAI's shapes.

One server on 127.0.0.1 plays three upstreams by path prefix: one rate limits
(429 with Retry-After), one is too slow (the client's timeout), one answers.
The chain must skip the first two with their reasons and return the third's
transcript. No key is real and nothing leaves the machine.
"""

from __future__ import annotations

import time

import pytest
from voice_support import Upstream

from factoryos.voice import FallbackSpeechToText, FallbackTextToSpeech, VoiceError
from factoryos.voice.cloud import (
    DeepgramSpeechToText,
    ElevenLabsTextToSpeech,
    OpenAISpeechToText,
    OpenAITextToSpeech,
)


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
