"""Checking audio before any model sees it, so bad input gets a clear 4xx instead of a 503.

WAV is opened and its format checked (PCM, 1 or 2 channels, 8 to 48 kHz); the
other accepted types (MP3, FLAC, Ogg, WebM, M4A) are passed to the provider.
"""

from __future__ import annotations

import io
import wave

from factoryos.errors import InvalidInputError

#: Sample rates the providers take.
MIN_RATE, MAX_RATE = 8_000, 48_000
ACCEPTED = frozenset(
    {"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3", "audio/flac",
     "audio/ogg", "audio/webm", "audio/mp4", "audio/m4a", "audio/x-m4a"}
)  # fmt: skip


class UnsupportedAudioError(InvalidInputError):
    """The audio is empty, not audio, or in a format or sample rate we do not take."""


def check_audio(data: bytes, content_type: str) -> None:
    """Raise ``UnsupportedAudioError`` saying what is wrong with ``data``."""
    kind = content_type.split(";")[0].strip().lower()
    if not data:
        raise UnsupportedAudioError("the audio is empty")
    if kind not in ACCEPTED:
        raise UnsupportedAudioError(
            f"unsupported audio type {kind!r}; send one of {', '.join(sorted(ACCEPTED))}"
        )
    if kind in {"audio/wav", "audio/x-wav", "audio/wave"}:
        try:
            with wave.open(io.BytesIO(data)) as reader:
                rate, channels = reader.getframerate(), reader.getnchannels()
                frames = reader.getnframes()
        except (wave.Error, EOFError) as exc:
            raise UnsupportedAudioError(f"not a readable WAV file: {exc}") from None
        check_rate(rate)
        if channels not in {1, 2}:
            raise UnsupportedAudioError(f"{channels} channels; send mono or stereo")
        if frames == 0:
            raise UnsupportedAudioError("the audio is empty (no frames)")


def check_rate(rate: int) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedAudioError(
            f"unsupported sample rate {rate} Hz; use {MIN_RATE} to {MAX_RATE} Hz"
        )
