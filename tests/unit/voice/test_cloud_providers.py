"""The cloud providers speak the documented shapes and turn failures into reasons to fall back."""

from __future__ import annotations

import json

import httpx
import pytest

from factoryos.voice import ProviderFailedError, ProviderUnavailableError
from factoryos.voice.cloud import (
    DeepgramSpeechToText,
    ElevenLabsTextToSpeech,
    OpenAISpeechToText,
    OpenAITextToSpeech,
)

DEEPGRAM_RESULT = {
    "metadata": {"request_id": "r", "duration": 1.2},
    "results": {"channels": [{"alternatives": [{
        "transcript": "hello there", "confidence": 0.97,
        "words": [
            {"word": "hello", "start": 0.1, "end": 0.4, "confidence": 0.98,
             "punctuated_word": "Hello"},
            {"word": "there", "start": 0.5, "end": 0.9, "confidence": 0.95},
        ],
    }]}]},
}  # fmt: skip


def transport(seen: list[httpx.Request], response: httpx.Response) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return httpx.MockTransport(handle)


def test_deepgram_sends_raw_audio_with_its_token_and_reads_words() -> None:
    seen: list[httpx.Request] = []
    stt = DeepgramSpeechToText(
        "test-key", env={}, transport=transport(seen, httpx.Response(200, json=DEEPGRAM_RESULT))
    )
    result = stt.transcribe(b"RIFFwav", language="en")
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/v1/listen"
    assert request.url.params["model"] == "nova-3" and request.url.params["language"] == "en"
    assert request.headers["authorization"] == "Token test-key"
    assert request.headers["content-type"] == "audio/wav" and request.content == b"RIFFwav"
    assert result.text == "hello there" and result.provider == "deepgram"
    assert [(s.text, s.start, s.end) for s in result.segments] == [
        ("Hello", 0.1, 0.4),
        ("there", 0.5, 0.9),
    ]


def test_openai_transcription_is_multipart_with_the_model() -> None:
    seen: list[httpx.Request] = []
    answer = {"text": "hi", "language": "english",
              "segments": [{"start": 0.0, "end": 0.6, "text": " hi"}]}  # fmt: skip
    stt = OpenAISpeechToText(
        "test-key", env={}, transport=transport(seen, httpx.Response(200, json=answer))
    )
    result = stt.transcribe(b"RIFFwav")
    (request,) = seen
    assert request.url.path == "/v1/audio/transcriptions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="model"' in body and b"whisper-1" in body and b'name="file"' in body
    assert b'filename="audio.wav"' in body and b"verbose_json" in body
    assert result.text == "hi" and result.segments[0].text == "hi"


def test_text_to_speech_requests() -> None:
    seen: list[httpx.Request] = []
    wav = b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 8 + (22050).to_bytes(4, "little")
    tts = OpenAITextToSpeech(
        "test-key", env={}, transport=transport(seen, httpx.Response(200, content=wav))
    )
    audio = tts.synthesize("hello", voice="nova")
    assert json.loads(seen[0].content) == {
        "model": "tts-1",
        "input": "hello",
        "voice": "nova",
        "response_format": "wav",
    }
    assert (audio.format, audio.sample_rate) == ("wav", 22050)
    eleven = ElevenLabsTextToSpeech(
        "test-key", env={}, transport=transport(seen, httpx.Response(200, content=b"\x01\x02"))
    )
    pcm = eleven.synthesize("hello")
    request = seen[-1]
    assert request.url.path == "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"
    assert request.url.params["output_format"] == "pcm_16000"
    assert request.headers["xi-api-key"] == "test-key"
    assert json.loads(request.content)["model_id"] == "eleven_flash_v2_5"
    assert (pcm.data, pcm.sample_rate, pcm.format) == (b"\x01\x02", 16000, "pcm")


def test_keys_come_from_the_environment_and_their_absence_says_which() -> None:
    with pytest.raises(ProviderUnavailableError, match="set DEEPGRAM_API_KEY"):
        DeepgramSpeechToText(env={}).transcribe(b"x")
    seen: list[httpx.Request] = []
    stt = DeepgramSpeechToText(
        env={"DEEPGRAM_API_KEY": "from-env"},
        transport=transport(seen, httpx.Response(200, json=DEEPGRAM_RESULT)),
    )
    stt.transcribe(b"x")
    assert seen[0].headers["authorization"] == "Token from-env"


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (httpx.Response(401, json={"err_msg": "bad"}), ProviderUnavailableError, "key was refused"),
        (httpx.Response(429, headers={"Retry-After": "7"}), ProviderFailedError, "retry after 7s"),
        (httpx.Response(500, json={"error": {"message": "boom"}}), ProviderFailedError, "boom"),
        (httpx.Response(200, json={"nothing": 1}), ProviderFailedError, "unexpected response"),
    ],
)
def test_failures_become_reasons(response: httpx.Response, error: type, message: str) -> None:
    stt = DeepgramSpeechToText("k", env={}, transport=transport([], response))
    with pytest.raises(error, match=message) as caught:
        stt.transcribe(b"x")
    if response.status_code == 429:
        assert caught.value.retry_after == 7.0
