"""Cloud providers over HTTP: Deepgram (STT), OpenAI (STT and TTS), ElevenLabs (TTS).

Each takes its key from the argument or the environment (``DEEPGRAM_API_KEY``,
``OPENAI_API_KEY``, ``ELEVENLABS_API_KEY``; on a cluster from a Secret through
the same variables), a ``base_url`` (their public API by default; tests point
it at a local fake) and an optional ``httpx`` transport. Their documented
request and response shapes are followed. A missing key makes the provider
unavailable; 401/403 too (the key is wrong); a timeout, 429 (with
``Retry-After``) or a 5xx is a failed request. Either way the fallback chain
moves on and reports the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from factoryos.voice.contract import (
    Audio,
    Capabilities,
    ProviderFailedError,
    ProviderUnavailableError,
    Segment,
    Transcript,
)


class _Http:
    """What the cloud providers share: the key, the model, the client, translating errors.

    A provider class names itself, its key's variable, its API's base URL, its
    default model, how the key is sent (``auth_header``: ``auth_prefix`` + key)
    and whether it transcribes (``stt``) or speaks.
    """

    name = ""
    vendor = ""
    key_env = ""
    default_base = ""
    default_model = ""
    auth_header, auth_prefix = "Authorization", "Bearer "
    stt = False

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.api_key = api_key or env.get(self.key_env) or None
        self.model = model or self.default_model
        self.base_url = (base_url or self.default_base).rstrip("/")
        self._transport = transport

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            self.name, stt=self.stt, tts=not self.stt, detail=f"{self.vendor} {self.model}"
        )

    def _post(self, path: str, timeout: float, **kwargs: Any) -> httpx.Response:
        if not self.api_key:
            raise ProviderUnavailableError(f"no API key: set {self.key_env}")
        auth = {self.auth_header: f"{self.auth_prefix}{self.api_key}"}
        headers = {**auth, **kwargs.pop("headers", {})}
        try:
            with httpx.Client(transport=self._transport, timeout=timeout) as client:
                response = client.post(self.base_url + path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ProviderFailedError(f"timed out after {timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ProviderFailedError(f"request failed: {exc}") from None
        if response.status_code in {401, 403}:
            raise ProviderUnavailableError(
                f"the key was refused ({response.status_code}): check {self.key_env}"
            )
        if response.status_code == 429:
            after = response.headers.get("retry-after")
            wait = float(after) if after and after.replace(".", "", 1).isdigit() else None
            raise ProviderFailedError(
                "rate limited (429)" + (f", retry after {after}s" if after else ""), wait
            )
        if response.status_code >= 400:
            raise ProviderFailedError(f"HTTP {response.status_code}: {_error_text(response)}")
        return response


class DeepgramSpeechToText(_Http):
    """Deepgram's pre-recorded transcription (``POST /v1/listen``)."""

    name, key_env, default_base = "deepgram", "DEEPGRAM_API_KEY", "https://api.deepgram.com"
    vendor, default_model, auth_prefix, stt = "Deepgram", "nova-3", "Token ", True

    def transcribe(
        self,
        audio: bytes,
        *,
        language: str | None = None,
        content_type: str = "audio/wav",
        timeout: float = 30.0,
    ) -> Transcript:
        params = {"model": self.model, "smart_format": "true", "punctuate": "true"}
        if language:
            params["language"] = language
        response = self._post(
            "/v1/listen", timeout, params=params, content=audio,
            headers={"Content-Type": content_type},
        )  # fmt: skip
        try:
            best = response.json()["results"]["channels"][0]["alternatives"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderFailedError("unexpected response: no results.channels[0]") from None
        segments = [
            Segment(
                float(w["start"]),
                float(w["end"]),
                str(w.get("punctuated_word") or w["word"]),
                w.get("confidence"),
            )
            for w in best.get("words", [])
        ]
        return Transcript(str(best.get("transcript", "")), segments, language, self.name)


class OpenAISpeechToText(_Http):
    """OpenAI's transcription (``POST /v1/audio/transcriptions``, multipart)."""

    name, key_env, default_base = "openai-stt", "OPENAI_API_KEY", "https://api.openai.com"
    vendor, default_model, stt = "OpenAI", "whisper-1", True

    def transcribe(
        self,
        audio: bytes,
        *,
        language: str | None = None,
        content_type: str = "audio/wav",
        timeout: float = 30.0,
    ) -> Transcript:
        verbose = self.model == "whisper-1"  # the gpt-4o models answer json only
        data = {"model": self.model, "response_format": "verbose_json" if verbose else "json"}
        if language:
            data["language"] = language
        extension = content_type.rsplit("/", 1)[-1].replace("mpeg", "mp3")
        response = self._post(
            "/v1/audio/transcriptions", timeout, data=data,
            files={"file": (f"audio.{extension}", audio, content_type)},
        )  # fmt: skip
        try:
            doc = response.json()
            text = str(doc["text"])
        except (ValueError, KeyError, TypeError):
            raise ProviderFailedError("unexpected response: no text") from None
        segments = [
            Segment(float(s["start"]), float(s["end"]), str(s["text"]).strip())
            for s in doc.get("segments") or []
        ]
        return Transcript(text, segments, doc.get("language") or language, self.name)


class OpenAITextToSpeech(_Http):
    """OpenAI's speech (``POST /v1/audio/speech``), as WAV."""

    name, key_env, default_base = "openai-tts", "OPENAI_API_KEY", "https://api.openai.com"
    vendor, default_model = "OpenAI", "tts-1"

    def __init__(self, api_key: str | None = None, *, voice: str = "alloy", **kw: Any) -> None:
        super().__init__(api_key, **kw)
        self.voice = voice

    def synthesize(self, text: str, *, voice: str | None = None, timeout: float = 30.0) -> Audio:
        body = {"model": self.model, "input": text, "voice": voice or self.voice,
                "response_format": "wav"}  # fmt: skip
        response = self._post("/v1/audio/speech", timeout, json=body)
        return Audio(response.content, _wav_rate(response.content, 24_000), "wav", self.name)


class ElevenLabsTextToSpeech(_Http):
    """ElevenLabs' text to speech (``POST /v1/text-to-speech/{voice}``), as raw 16 kHz PCM."""

    name, key_env, default_base = "elevenlabs", "ELEVENLABS_API_KEY", "https://api.elevenlabs.io"
    vendor, default_model = "ElevenLabs", "eleven_flash_v2_5"
    auth_header, auth_prefix = "xi-api-key", ""
    SAMPLE_RATE = 16_000

    def __init__(
        self, api_key: str | None = None, *, voice: str = "21m00Tcm4TlvDq8ikWAM", **kw: Any
    ) -> None:
        super().__init__(api_key, **kw)
        self.voice = voice

    def synthesize(self, text: str, *, voice: str | None = None, timeout: float = 30.0) -> Audio:
        response = self._post(
            f"/v1/text-to-speech/{voice or self.voice}", timeout,
            params={"output_format": f"pcm_{self.SAMPLE_RATE}"},
            json={"text": text, "model_id": self.model},
        )  # fmt: skip
        return Audio(response.content, self.SAMPLE_RATE, "pcm", self.name)


def _error_text(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    detail = doc.get("error") or doc.get("detail") or doc.get("err_msg") or doc
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("msg") or json.dumps(detail)[:200]
    return str(detail)[:200]


def _wav_rate(data: bytes, default: int) -> int:
    """The sample rate in a WAV header (bytes 24..28), else ``default``."""
    if len(data) >= 28 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return int.from_bytes(data[24:28], "little")
    return default
