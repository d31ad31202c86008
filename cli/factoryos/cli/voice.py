"""``sf voice transcribe FILE`` and ``sf voice say TEXT -o out.wav``: try the voice providers.

Locally they use the default chains directly (the local models first, then any
cloud provider whose key is set); with ``--url`` they ask a running voice
service instead. The providers that were skipped, and why, go to stderr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit, progress
from factoryos.errors import InvalidInputError

app = typer.Typer(help="Speech to text and text to speech.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="A voice service (python -m factoryos.voice) to ask instead."),
]


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="An audio file (WAV, MP3, ...).", exists=True)],
    language: Annotated[str | None, typer.Option("--language", "-l")] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Print what is said in an audio file."""
    from factoryos.voice.audio import check_audio

    audio = file.read_bytes()
    kind = "audio/mpeg" if file.suffix.lower() == ".mp3" else f"audio/{file.suffix[1:] or 'wav'}"
    check_audio(audio, kind)
    if url:
        data = _ask(url, "/v1/transcribe", content=audio, headers={"Content-Type": kind},
                    params={"language": language} if language else None).json()  # fmt: skip
    else:
        from factoryos.voice.chains import default_chains

        stt, _ = default_chains(os.environ)
        result = stt.transcribe(audio, language=language, content_type=kind)
        data = {
            "text": result.text,
            "language": result.language,
            "provider": result.provider,
            "segments": [vars(s) for s in result.segments],
            "skipped": [vars(s) for s in stt.skipped],
        }
    for skipped in data.get("skipped", []):
        progress(f"skipped {skipped['provider']}: {skipped['reason']}")
    emit(data, output, lambda d: str(d["text"]))


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="What to say.")],
    out: Annotated[Path, typer.Option("--output-file", "-o", help="Where to write the audio.")],
    voice: Annotated[str | None, typer.Option("--voice")] = None,
    url: UrlOption = None,
) -> None:
    """Speak ``TEXT`` into an audio file (WAV from the local voice)."""
    if url:
        response = _ask(url, "/v1/synthesize", json={"text": text, "voice": voice})
        data, provider = response.content, response.headers.get("x-provider", "?")
        rate = response.headers.get("x-sample-rate", "?")
    else:
        from factoryos.voice.chains import default_chains

        _, tts = default_chains(os.environ)
        audio = tts.synthesize(text, voice=voice)
        data, provider, rate = audio.data, audio.provider, str(audio.sample_rate)
        for skipped in tts.skipped:
            progress(f"skipped {skipped.provider}: {skipped.reason}")
    out.write_bytes(data)
    progress(f"wrote {out} ({len(data)} bytes, {rate} Hz, by {provider})")


def _ask(url: str, path: str, **kwargs: Any) -> Any:
    import httpx

    token = os.environ.get("FACTORYOS_VOICE_TOKEN")
    headers = {
        **kwargs.pop("headers", {}),
        **({"Authorization": f"Bearer {token}"} if token else {}),
    }
    try:
        response = httpx.post(url.rstrip("/") + path, headers=headers, timeout=120, **kwargs)
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"cannot reach the voice service at {url}: {exc}") from None
    if response.status_code != 200:
        raise InvalidInputError(
            f"the voice service answered {response.status_code}: {response.text[:200]}"
        )
    return response
