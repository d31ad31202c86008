"""The voice service: speech to text and text to speech over HTTP and a WebSocket.

``create_voice_app(stt, tts)`` serves a fallback chain of each (the local
providers first, cloud ones after, as configured). Products use it, and the
eval harness speaks to candidates through it. Every request needs
``Authorization: Bearer <token>`` (the WebSocket too; compared in constant
time); only ``insecure=True`` (``--insecure``, which the service logs at
start) serves without a token, and without either the app is refused.

- ``POST /v1/transcribe`` (audio bytes; ``Content-Type`` the audio's type,
  ``?language=``) -> JSON transcript with segments, the provider and the
  providers skipped;
- ``POST /v1/synthesize`` ``{"text", "voice"?}`` -> the audio (WAV, or raw PCM
  with ``X-Sample-Rate``), ``X-Provider`` says who spoke;
- ``WS /v1/stream``: send ``{"op": "start", "sampleRate": 16000, "language":
  "en"}``, then binary frames of 16-bit mono PCM: a partial transcript comes
  back every ``partial_seconds`` of audio, and the final one after ``{"op":
  "end"}``; ``{"op": "say", "text": ...}`` streams the spoken answer back as
  binary WAV frames, one per sentence, then ``{"kind": "audio-end"}``;
- ``GET /v1/capabilities``, ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import re
import wave
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect

from factoryos.errors import InvalidInputError
from factoryos.voice.audio import UnsupportedAudioError, check_audio, check_rate
from factoryos.voice.contract import Transcript, VoiceError
from factoryos.voice.fallback import FallbackSpeechToText, FallbackTextToSpeech

#: The variable holding the service's bearer token.
TOKEN_ENV = "FACTORYOS_VOICE_TOKEN"  # noqa: S105 - a variable name
NO_TOKEN = (
    f"the voice service needs a token: set {TOKEN_ENV} (clients then send "
    "Authorization: Bearer <token>), or start it with --insecure to serve without one"
)
#: Seconds of streamed audio between partial transcripts.
PARTIAL_SECONDS = 2.0


class SpeakRequest(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    voice: str | None = None


def check_token_choice(token: str | None, insecure: bool) -> None:
    """A token, or an explicit ``insecure``: exactly one of them (``InvalidInputError``)."""
    if token is None and not insecure:
        raise InvalidInputError(NO_TOKEN)
    if token is not None and insecure:
        raise InvalidInputError(f"--insecure and {TOKEN_ENV} both given: choose one")


def create_voice_app(
    stt: FallbackSpeechToText,
    tts: FallbackTextToSpeech,
    *,
    token: str | None,
    insecure: bool = False,
    partial_seconds: float = PARTIAL_SECONDS,
) -> FastAPI:
    """The voice service over the two chains (see the module docstring); ``token`` None
    needs ``insecure``, else ``InvalidInputError``."""
    check_token_choice(token, insecure)
    app = FastAPI(title="Factory OS voice", summary="Speech to text and text to speech.")

    def allowed(headers: Any) -> bool:
        if token is None:
            return True
        offered = str(headers.get("authorization") or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(offered.encode(), token.encode())

    @app.middleware("http")
    async def auth(request: Request, call_next: Any) -> Response:
        if request.url.path != "/healthz" and not allowed(request.headers):
            return JSONResponse({"detail": "send Authorization: Bearer <token>"}, status_code=401)
        response: Response = await call_next(request)
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    @app.get("/v1/capabilities")
    def capabilities() -> dict[str, Any]:
        return {
            "stt": [vars(p.capabilities) for p, _ in stt.providers],
            "tts": [vars(p.capabilities) for p, _ in tts.providers],
        }

    @app.post("/v1/transcribe")
    async def transcribe(request: Request, language: str | None = None) -> Response:
        audio = await request.body()
        kind = request.headers.get("content-type") or "audio/wav"
        try:
            check_audio(audio, kind)
        except UnsupportedAudioError as exc:
            status = 415 if "unsupported audio type" in str(exc) else 422
            return JSONResponse({"detail": str(exc)}, status_code=status)
        try:
            result = await asyncio.to_thread(
                stt.transcribe, audio, language=language, content_type=kind
            )
        except VoiceError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return JSONResponse({**_transcript(result), "skipped": [vars(s) for s in stt.skipped]})

    @app.post("/v1/synthesize")
    async def synthesize(body: SpeakRequest) -> Response:
        try:
            audio = await asyncio.to_thread(tts.synthesize, body.text, voice=body.voice)
        except VoiceError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        media = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(audio.format, "audio/L16")
        return Response(
            audio.data,
            media_type=media,
            headers={"X-Provider": audio.provider, "X-Sample-Rate": str(audio.sample_rate)},
        )

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        if not allowed(websocket.headers):
            await websocket.accept()
            await websocket.close(4401, "send Authorization: Bearer <token>")
            return
        await websocket.accept()
        await _converse(websocket, stt, tts, partial_seconds)

    return app


async def _converse(
    websocket: WebSocket,
    stt: FallbackSpeechToText,
    tts: FallbackTextToSpeech,
    partial_seconds: float,
) -> None:
    pcm = bytearray()
    rate, language, last_partial = 16_000, None, 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                pcm += message["bytes"]
                if len(pcm) - last_partial >= partial_seconds * rate * 2:
                    last_partial = len(pcm)
                    await _send_transcript(websocket, stt, bytes(pcm), rate, language, final=False)
                continue
            op = _json(message.get("text"))
            if op.get("op") == "start":
                pcm, last_partial = bytearray(), 0
                try:
                    rate = int(op.get("sampleRate") or 16_000)
                    check_rate(rate)
                except (ValueError, UnsupportedAudioError) as exc:
                    await websocket.send_json({"kind": "error", "detail": str(exc)})
                    rate = 16_000
                    continue
                language = op.get("language")
            elif op.get("op") == "end":
                await _send_transcript(websocket, stt, bytes(pcm), rate, language, final=True)
                pcm, last_partial = bytearray(), 0
            elif op.get("op") == "say":
                for sentence in _sentences(str(op.get("text") or "")):
                    try:
                        audio = await asyncio.to_thread(tts.synthesize, sentence)
                    except VoiceError as exc:
                        await websocket.send_json({"kind": "error", "detail": str(exc)})
                        break
                    await websocket.send_bytes(audio.data)
                await websocket.send_json({"kind": "audio-end"})
            else:
                await websocket.send_json({"kind": "error", "detail": f"unknown op {op!r}"})
    except WebSocketDisconnect:
        return


async def _send_transcript(
    websocket: WebSocket,
    stt: FallbackSpeechToText,
    pcm: bytes,
    rate: int,
    language: str | None,
    *,
    final: bool,
) -> None:
    if not pcm:
        await websocket.send_json({"kind": "transcript", "text": "", "final": final})
        return
    try:
        result = await asyncio.to_thread(stt.transcribe, _wav(pcm, rate), language=language)
    except VoiceError as exc:
        await websocket.send_json({"kind": "error", "detail": str(exc)})
        return
    await websocket.send_json({"kind": "transcript", "final": final, **_transcript(result)})


def _wav(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return out.getvalue()


def _transcript(result: Transcript) -> dict[str, Any]:
    return {
        "text": result.text,
        "language": result.language,
        "provider": result.provider,
        "segments": [vars(s) for s in result.segments],
    }


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _json(text: str | None) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
