"""The voice service is secure by default: a token, or an explicit and logged ``--insecure``."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from factoryos.errors import InvalidInputError
from factoryos.voice import Audio, Capabilities, FallbackSpeechToText, FallbackTextToSpeech
from factoryos.voice import __main__ as voice_main
from factoryos.voice.service import TOKEN_ENV, create_voice_app


class Silent:
    """A provider that is never asked (these tests only knock on the door)."""

    capabilities = Capabilities("silent", stt=True, tts=True)

    def synthesize(self, text: str, *, voice: str | None = None, timeout: float = 30.0) -> Audio:
        raise AssertionError("not asked")


def chains(_env: object = None) -> tuple[FallbackSpeechToText, FallbackTextToSpeech]:
    return FallbackSpeechToText([(Silent(), 1.0)]), FallbackTextToSpeech([(Silent(), 1.0)])  # type: ignore[list-item]


NO_CHAINS = chains()


def test_without_a_token_the_service_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    served: list[Any] = []
    monkeypatch.setattr(voice_main.uvicorn, "run", lambda app, **kw: served.append(app))

    assert voice_main.main([]) == 2

    err = capsys.readouterr().err
    assert not served and err.count("\n") == 1
    assert TOKEN_ENV in err and "--insecure" in err


def test_insecure_serves_without_a_token_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setattr(voice_main, "default_chains", chains)
    served: list[Any] = []
    monkeypatch.setattr(voice_main.uvicorn, "run", lambda app, **kw: served.append(app))

    assert voice_main.main(["--insecure", "--port", "8599"]) == 0

    assert len(served) == 1
    assert "WARNING: --insecure" in capsys.readouterr().err
    assert TestClient(served[0]).get("/v1/capabilities").status_code == 200


def test_a_token_and_insecure_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t")
    monkeypatch.setattr(voice_main.uvicorn, "run", lambda app, **kw: None)
    assert voice_main.main(["--insecure"]) == 2


def test_with_a_token_every_request_needs_it() -> None:
    client = TestClient(create_voice_app(*NO_CHAINS, token="voice-token"))
    assert client.get("/v1/capabilities").status_code == 401
    wrong = {"Authorization": "Bearer voice-tokeN"}
    assert client.get("/v1/capabilities", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer voice-token"}
    assert client.get("/v1/capabilities", headers=right).status_code == 200
    assert client.get("/healthz").status_code == 200, "the probe says only ok"


def test_the_app_itself_refuses_no_token_without_insecure() -> None:
    with pytest.raises(InvalidInputError, match="--insecure"):
        create_voice_app(*NO_CHAINS, token=None)
