"""Fallback chains: the first provider that answers wins; the others say why they were skipped.

Each provider gets its own timeout. A provider that is unavailable (no key,
no model) or fails (timeout, rate limit, server error) is skipped with its
reason, and the next is tried; when none answers, ``VoiceError`` lists every
reason. ``skipped`` keeps the reasons of the last call, for logs and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from factoryos.voice.contract import (
    Audio,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VoiceError,
)


@dataclass(frozen=True)
class Skipped:
    provider: str
    reason: str


class FallbackSpeechToText:
    """Speech-to-text over ``providers`` in order, each with its timeout (seconds)."""

    def __init__(self, providers: Sequence[tuple[SpeechToText, float]]) -> None:
        if not providers:
            raise VoiceError("no speech-to-text provider configured")
        self.providers = list(providers)
        self.skipped: list[Skipped] = []

    def transcribe(
        self, audio: bytes, *, language: str | None = None, content_type: str = "audio/wav"
    ) -> Transcript:
        self.skipped = []
        for provider, timeout in self.providers:
            try:
                return provider.transcribe(
                    audio, language=language, content_type=content_type, timeout=timeout
                )
            except VoiceError as exc:
                self.skipped.append(Skipped(provider.capabilities.name, str(exc)))
        raise VoiceError(_none_answered("speech-to-text", self.skipped))


class FallbackTextToSpeech:
    """Text-to-speech over ``providers`` in order, each with its timeout (seconds)."""

    def __init__(self, providers: Sequence[tuple[TextToSpeech, float]]) -> None:
        if not providers:
            raise VoiceError("no text-to-speech provider configured")
        self.providers = list(providers)
        self.skipped: list[Skipped] = []

    def synthesize(self, text: str, *, voice: str | None = None) -> Audio:
        self.skipped = []
        for provider, timeout in self.providers:
            try:
                return provider.synthesize(text, voice=voice, timeout=timeout)
            except VoiceError as exc:
                self.skipped.append(Skipped(provider.capabilities.name, str(exc)))
        raise VoiceError(_none_answered("text-to-speech", self.skipped))


def _none_answered(what: str, skipped: list[Skipped]) -> str:
    reasons = "; ".join(f"{s.provider}: {s.reason}" for s in skipped)
    return f"no {what} provider answered ({reasons})"
