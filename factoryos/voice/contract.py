"""The provider contract: what a speech-to-text or text-to-speech provider takes and returns.

A provider says what it can do (``Capabilities``), raises
``ProviderUnavailableError`` when it cannot serve at all (no key, no model
installed: try the next one, and tell the user how to fix it) and
``ProviderFailedError`` when a request failed (timeout, rate limit, server
error: try the next one). Both carry the reason the fallback chain reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from factoryos.errors import FactoryError


class VoiceError(FactoryError):
    """No provider could do what was asked; the message lists why each was skipped."""


class ProviderUnavailableError(VoiceError):
    """The provider cannot serve here (missing key, model not installed)."""


class ProviderFailedError(VoiceError):
    """A request to the provider failed (timeout, rate limit, server error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Segment:
    """A stretch of a transcript with its times (seconds) and confidence (0..1, if known)."""

    start: float
    end: float
    text: str
    confidence: float | None = None


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    provider: str = ""


@dataclass(frozen=True)
class Audio:
    """Encoded audio (``format``: wav, mp3, pcm = raw 16-bit mono) and its sample rate."""

    data: bytes
    sample_rate: int
    format: str
    provider: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a provider offers, for people and for picking one."""

    name: str
    stt: bool = False
    tts: bool = False
    streaming_stt: bool = False
    streaming_tts: bool = False
    local: bool = False
    languages: tuple[str, ...] = ()
    detail: str = ""


class SpeechToText(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def transcribe(
        self,
        audio: bytes,
        *,
        language: str | None = None,
        content_type: str = "audio/wav",
        timeout: float = 30.0,
    ) -> Transcript: ...


class TextToSpeech(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def synthesize(
        self, text: str, *, voice: str | None = None, timeout: float = 30.0
    ) -> Audio: ...
