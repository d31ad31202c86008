"""Voice: pluggable speech-to-text and text-to-speech providers behind one contract.

``contract`` is what every provider offers and returns; ``fallback`` chains
providers with per-provider timeouts and says why each was skipped; ``cloud``
holds the Deepgram, OpenAI and ElevenLabs providers over HTTP.
"""

from factoryos.voice.contract import (
    Audio,
    Capabilities,
    ProviderFailedError,
    ProviderUnavailableError,
    Segment,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VoiceError,
)
from factoryos.voice.fallback import FallbackSpeechToText, FallbackTextToSpeech, Skipped

__all__ = [
    "Audio",
    "Capabilities",
    "FallbackSpeechToText",
    "FallbackTextToSpeech",
    "ProviderFailedError",
    "ProviderUnavailableError",
    "Segment",
    "Skipped",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "VoiceError",
]
