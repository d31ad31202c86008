"""The scripted endpoint itself, over plain HTTP (fast; no agent CLI needed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from model_endpoint import ModelEndpoint, coding_script

SHELL_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


def _post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1 only)
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_chat_completions_replays_the_script_and_records_the_prompt() -> None:
    script = coding_script("a.txt", "old\n", "new\n", "make test", match="the goal")
    with ModelEndpoint(script) as endpoint:
        url = f"{endpoint.base_url}/v1/chat/completions"
        messages: list[dict[str, Any]] = [{"role": "user", "content": "the goal"}]
        names = []
        for _ in range(3):
            status, text = _post(url, {"model": "m", "messages": messages, "tools": [SHELL_TOOL]})
            assert status == 200
            call = json.loads(text)["choices"][0]["message"]["tool_calls"][0]["function"]
            names.append(json.loads(call["arguments"])["command"])
            messages += [{"role": "assistant"}, {"role": "tool", "content": "ok"}]
        body = {"model": "m", "messages": messages, "tools": [SHELL_TOOL], "stream": True}
        status, text = _post(url, body)
        assert endpoint.received("the goal")
    assert names[0] == "cat a.txt"
    assert "base64 -d > a.txt" in names[1]
    assert names[2] == "make test"
    assert status == 200
    assert '"finish_reason": "stop"' in text
    assert text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(("path", "kind"), [("/v1/messages", "rate_limit_error")])
def test_fail_next_answers_once_with_the_provider_error(path: str, kind: str) -> None:
    with ModelEndpoint(coding_script("a", "b", "c", "true")) as endpoint:
        endpoint.fail_next(429, message="slow down")
        first = _post(endpoint.base_url + path, {"model": "m", "messages": []})
        second = _post(endpoint.base_url + path, {"model": "m", "messages": []})
    assert first[0] == 429
    assert json.loads(first[1])["error"] == {"type": kind, "message": "slow down"}
    assert second[0] == 200
