"""The default provider chains: local first, then each cloud provider whose key is set.

Used by the voice service and ``sf voice``. ``FACTORYOS_VOICE_TIMEOUT`` sets the
per-provider timeout (seconds, default 30); ``FACTORYOS_VOICE_LOCAL=0`` leaves
the local providers out (a machine without the voice extra).
"""

from __future__ import annotations

from collections.abc import Mapping

from factoryos.voice.cloud import (
    DeepgramSpeechToText,
    ElevenLabsTextToSpeech,
    OpenAISpeechToText,
    OpenAITextToSpeech,
)
from factoryos.voice.contract import SpeechToText, TextToSpeech
from factoryos.voice.fallback import FallbackSpeechToText, FallbackTextToSpeech
from factoryos.voice.offline import PiperTextToSpeech, WhisperSpeechToText


def default_chains(
    env: Mapping[str, str],
) -> tuple[FallbackSpeechToText, FallbackTextToSpeech]:
    timeout = float(env.get("FACTORYOS_VOICE_TIMEOUT") or 30)
    local = env.get("FACTORYOS_VOICE_LOCAL", "1").strip().lower() not in {"0", "false", "no"}
    stt: list[tuple[SpeechToText, float]] = []
    tts: list[tuple[TextToSpeech, float]] = []
    if local:
        stt.append((WhisperSpeechToText(env=env), timeout))
        tts.append((PiperTextToSpeech(env=env), timeout))
    if env.get("DEEPGRAM_API_KEY"):
        stt.append((DeepgramSpeechToText(env=env, base_url=env.get("DEEPGRAM_BASE_URL")), timeout))
    if env.get("OPENAI_API_KEY"):
        base = env.get("OPENAI_BASE_URL")
        stt.append((OpenAISpeechToText(env=env, base_url=base), timeout))
        tts.append((OpenAITextToSpeech(env=env, base_url=base), timeout))
    if env.get("ELEVENLABS_API_KEY"):
        tts.append(
            (ElevenLabsTextToSpeech(env=env, base_url=env.get("ELEVENLABS_BASE_URL")), timeout)
        )
    return FallbackSpeechToText(stt), FallbackTextToSpeech(tts)
