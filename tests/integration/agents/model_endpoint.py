"""A scripted stand-in for the model providers, so the real agent CLIs run offline.

Tests under tests/integration/agents start a :class:`ModelEndpoint` on 127.0.0.1 (a random
port), point a real coding-agent CLI at it (Codex through a ``config.toml``
model provider, Claude Code through ``ANTHROPIC_BASE_URL``, Gemini CLI through
``GOOGLE_GEMINI_BASE_URL``) and check what the CLI did. The endpoint speaks:

- OpenAI Responses: ``POST /v1/responses`` (SSE when ``stream`` is true), ``GET /v1/models``;
- OpenAI Chat Completions: ``POST /v1/chat/completions`` (SSE when ``stream`` is true);
- Anthropic Messages: ``POST /v1/messages`` (SSE when ``stream`` is true),
  ``POST /v1/messages/count_tokens``;
- Google generateContent: ``POST /v1beta/models/<m>:generateContent``,
  ``:streamGenerateContent`` (SSE with ``alt=sse``), ``:countTokens``.

It replays a :class:`Script`: a list of :class:`Step` s (read a file, edit it, run
a shell command, finish with a message). Each step becomes a call of whichever
tool the CLI offered for it (``exec_command``/``apply_patch`` for Codex,
``Read``/``Edit``/``Bash`` for Claude Code, ``read_file``/``replace``/
``run_shell_command`` for Gemini CLI, a shell tool otherwise), picked from the
tool list in the request, so the same script drives every CLI. The endpoint keeps
no conversation state: the step to answer with is the number of tool results
already in the request; with several scripts, a conversation gets the first whose
``Script.match`` it contains. Requests without tools (titles, probes, quota checks) and
conversations that match no script get a plain text answer.

Every request is recorded (:attr:`ModelEndpoint.requests`) so a test can assert
that the prompt (the goal) reached the model, and the endpoint can be told to
answer with provider-shaped errors (:meth:`ModelEndpoint.fail_next`,
:meth:`ModelEndpoint.fail_always`), e.g. 401, or 429 once and then succeed.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

Json = dict[str, Any]
StepKind = Literal["read", "edit", "shell", "final"]


@dataclass(frozen=True)
class Step:
    """One model turn: a tool call (read, edit, shell) or the final message."""

    kind: StepKind
    path: str = ""
    old: str = ""
    new: str = ""
    command: str = ""
    text: str = ""


@dataclass(frozen=True)
class Script:
    """The scripted conversation and when it applies.

    ``match``: only conversations whose request text contains it get the steps
    (others, e.g. Kilroy's preflight prompt probe, get ``probe_answer``).
    """

    steps: tuple[Step, ...]
    match: str | None = None
    probe_answer: str = "OK"


STATUS_JSON_COMMAND = (
    'printf \'%s\\n\' \'{"status": "success", "notes": "scripted agent"}\' '
    '> "${KILROY_STAGE_STATUS_PATH:-status.json}"'
)
"""Writes the stage outcome where Kilroy looks for it (its status.json contract)."""


def coding_script(
    path: str,
    old: str,
    new: str,
    test_command: str,
    *,
    final: str = "Done: the change is made and the tests pass.",
    write_status: bool = False,
    match: str | None = None,
) -> Script:
    """The standard task: read ``path``, replace ``old`` by ``new``, run the tests, finish.

    ``write_status`` adds a shell step that writes Kilroy's stage ``status.json``
    before the final message (a Kilroy agent stage fails without it).
    """
    steps = [
        Step("read", path=path),
        Step("edit", path=path, old=old, new=new),
        Step("shell", command=test_command),
    ]
    if write_status:
        steps.append(Step("shell", command=STATUS_JSON_COMMAND))
    steps.append(Step("final", text=final))
    return Script(steps=tuple(steps), match=match)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Json | None
    query: str = ""

    @property
    def text(self) -> str:
        return json.dumps(self.body) if self.body is not None else ""


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Json | str  # str: a freeform (custom) tool's raw input


@dataclass
class _Failures:
    queue: list[int] = field(default_factory=list)
    always: int | None = None
    message: str = "scripted endpoint error"


# --- choosing a tool call for a step ------------------------------------------------------------

_SHELL_TOOLS = ("exec_command", "shell_command", "shell", "Bash", "run_shell_command", "bash")
_PATH_KEYS = ("file_path", "absolute_path", "path")
_CWD_PATTERNS = (
    re.compile(r"<cwd>([^<]+)</cwd>"),
    re.compile(r"Primary working directory: (/[^\s\"\\]+)"),
    re.compile(r"Working directory: (/[^\s\"\\]+)"),
    re.compile(r"working in the directory: (/[^\s\"\\]+?)\.?(?:\\n|\s|\")"),
)


def _cwd_of(text: str) -> str:
    for pattern in _CWD_PATTERNS:
        if found := pattern.search(text):
            return found.group(1).strip()
    return ""


def _absolute(path: str, cwd: str) -> str:
    if PurePosixPath(path).is_absolute() or not cwd:
        return path
    return str(PurePosixPath(cwd) / path)


def _shell_call(tools: dict[str, Json], command: str) -> ToolCall:
    for name in _SHELL_TOOLS:
        if name not in tools:
            continue
        props = tools[name].get("properties", {})
        if name == "shell" and props.get("command", {}).get("type") == "array":
            return ToolCall(name, {"command": ["bash", "-lc", command]})
        key = "cmd" if "cmd" in props else "command"
        args: Json = {key: command}
        if "description" in props:
            args["description"] = "scripted step"
        return ToolCall(name, args)
    raise LookupError(f"no shell tool offered (tools: {sorted(tools)})")


def _path_key(schema: Json) -> str:
    props = schema.get("properties", {})
    return next((k for k in _PATH_KEYS if k in props), "file_path")


def _apply_patch_text(path: str, old: str, new: str) -> str:
    lines = [f"-{line}" for line in old.splitlines()] + [f"+{line}" for line in new.splitlines()]
    return "\n".join(["*** Begin Patch", f"*** Update File: {path}", "@@", *lines, "*** End Patch"])


def tool_call_for(step: Step, tools: dict[str, Json], cwd: str) -> ToolCall:
    """The call of one of the offered ``tools`` (name -> JSON schema) that performs ``step``."""
    if step.kind == "shell":
        return _shell_call(tools, step.command)
    if step.kind == "read":
        for name in ("Read", "read_file"):
            if name in tools:
                return ToolCall(name, {_path_key(tools[name]): _absolute(step.path, cwd)})
        return _shell_call(tools, f"cat {step.path}")
    if step.kind == "edit":
        for name in ("Edit", "replace", "edit_file"):
            if name in tools:
                args: Json = {
                    _path_key(tools[name]): _absolute(step.path, cwd),
                    "old_string": step.old,
                    "new_string": step.new,
                }
                if "instruction" in tools[name].get("properties", {}):
                    args["instruction"] = "scripted edit"
                return ToolCall(name, args)
        patch = _apply_patch_text(step.path, step.old, step.new)
        if "apply_patch" in tools:
            schema = tools["apply_patch"]
            if schema.get("x-freeform"):
                return ToolCall("apply_patch", patch)
            return ToolCall("apply_patch", {"input": patch})
        if any(name in tools for name in ("exec_command", "shell_command", "shell")):
            # Codex runs `apply_patch` given to its shell tool as its own edit tool.
            return _shell_call(tools, f"apply_patch <<'PATCH'\n{patch}\nPATCH\n")
        content = base64.b64encode(step.new.encode()).decode()
        return _shell_call(tools, f"printf %s {content} | base64 -d > {step.path}")
    raise ValueError(f"step {step.kind} is not a tool call")


# --- per-protocol reading of requests -----------------------------------------------------------


def _tools_responses(body: Json) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for tool in body.get("tools") or []:
        if tool.get("type") == "function":
            out[tool["name"]] = tool.get("parameters") or {}
        elif tool.get("type") == "custom":
            out[tool["name"]] = {"x-freeform": True}
    return out


def _tools_chat(body: Json) -> dict[str, Json]:
    return {
        t["function"]["name"]: t["function"].get("parameters") or {}
        for t in body.get("tools") or []
        if t.get("type") == "function"
    }


def _tools_anthropic(body: Json) -> dict[str, Json]:
    return {t["name"]: t.get("input_schema") or {} for t in body.get("tools") or [] if "name" in t}


def _tools_gemini(body: Json) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or []:
            out[decl["name"]] = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
    return out


def _results_responses(body: Json) -> int:
    kinds = {"function_call_output", "custom_tool_call_output"}
    return sum(1 for item in body.get("input") or [] if item.get("type") in kinds)


def _results_chat(body: Json) -> int:
    return sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")


def _results_anthropic(body: Json) -> int:
    return sum(
        1
        for m in body.get("messages") or []
        if isinstance(m.get("content"), list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    )


def _results_gemini(body: Json) -> int:
    return sum(
        1
        for c in body.get("contents") or []
        for part in c.get("parts") or []
        if "functionResponse" in part
    )


# --- per-protocol answers -----------------------------------------------------------------------

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def _sse(events: list[tuple[str | None, Json | str]]) -> bytes:
    chunks = []
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data)
        chunks.append((f"event: {name}\n" if name else "") + f"data: {payload}\n\n")
    return "".join(chunks).encode()


def _structured(text: str, body: Json) -> str:
    """Codex --output-schema: answer with JSON that fills the schema's string properties."""
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") != "json_schema":
        return text
    props = (fmt.get("schema") or {}).get("properties") or {}
    return json.dumps(dict.fromkeys(props, text) or {"final": text})


def _responses_answer(body: Json, call: ToolCall | None, text: str) -> tuple[Json, bytes]:
    rid = _id("resp")
    items: list[Json]
    if call is None:
        items = [
            {
                "type": "message",
                "id": _id("msg"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": _structured(text, body)}],
            }
        ]
    elif isinstance(call.arguments, str):
        items = [
            {
                "type": "custom_tool_call",
                "id": _id("ctc"),
                "call_id": _id("call"),
                "name": call.name,
                "input": call.arguments,
                "status": "completed",
            }
        ]
    else:
        items = [
            {
                "type": "function_call",
                "id": _id("fc"),
                "call_id": _id("call"),
                "name": call.name,
                "arguments": json.dumps(call.arguments),
                "status": "completed",
            }
        ]
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    response = {
        "id": rid,
        "object": "response",
        "model": body.get("model", ""),
        "status": "completed",
        "output": items,
        "usage": usage,
    }
    events: list[tuple[str | None, Json | str]] = [
        (
            "response.created",
            {
                "type": "response.created",
                "response": {**response, "status": "in_progress", "output": []},
            },
        ),
    ]
    for index, item in enumerate(items):
        events.append(
            (
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": index, "item": item},
            )
        )
        if item["type"] == "message":
            events.append(
                (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": item["content"][0]["text"],
                    },
                )
            )
        events.append(
            (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": index, "item": item},
            )
        )
    events.append(("response.completed", {"type": "response.completed", "response": response}))
    return response, _sse(events)


def _chat_answer(body: Json, call: ToolCall | None, text: str) -> tuple[Json, bytes]:
    cid, model = _id("chatcmpl"), body.get("model", "")
    if call is None:
        message: Json = {"role": "assistant", "content": text}
        finish = "stop"
    else:
        args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        tc = {
            "id": _id("call"),
            "type": "function",
            "function": {"name": call.name, "arguments": args},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [tc]}
        finish = "tool_calls"
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    full = {
        "id": cid,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }
    delta = dict(message)
    if call is not None:
        delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
    chunk = {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model}
    events: list[tuple[str | None, Json | str]] = [
        (None, {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
        (
            None,
            {
                **chunk,
                "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                "usage": usage,
            },
        ),
        (None, "[DONE]"),
    ]
    return full, _sse(events)


def _anthropic_answer(body: Json, call: ToolCall | None, text: str) -> tuple[Json, bytes]:
    mid, model = _id("msg"), body.get("model", "")
    if call is None:
        block: Json = {"type": "text", "text": text}
        stop = "end_turn"
    else:
        block = {"type": "tool_use", "id": _id("toolu"), "name": call.name, "input": call.arguments}
        stop = "tool_use"
    usage = {"input_tokens": 10, "output_tokens": 5}
    full = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }
    start_block = {"type": "text", "text": ""} if call is None else {**block, "input": {}}
    delta = (
        {"type": "text_delta", "text": text}
        if call is None
        else {"type": "input_json_delta", "partial_json": json.dumps(call.arguments)}
    )
    events: list[tuple[str | None, Json | str]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **full,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": start_block},
        ),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return full, _sse(events)


def _gemini_answer(body: Json, call: ToolCall | None, text: str) -> tuple[Json, bytes]:
    part: Json = (
        {"text": text}
        if call is None
        else {"functionCall": {"name": call.name, "args": call.arguments}}
    )
    full = {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "scripted",
    }
    return full, _sse([(None, full)])


@dataclass(frozen=True)
class _Protocol:
    tools: Callable[[Json], dict[str, Json]]
    results: Callable[[Json], int]
    answer: Callable[[Json, ToolCall | None, str], tuple[Json, bytes]]
    error: Callable[[int, str], Json]


def _openai_error(status: int, message: str) -> Json:
    kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _anthropic_error(status: int, message: str) -> Json:
    kind = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}
    return {"type": "error", "error": {"type": kind.get(status, "api_error"), "message": message}}


def _gemini_error(status: int, message: str) -> Json:
    kind = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": kind}}


RESPONSES = _Protocol(_tools_responses, _results_responses, _responses_answer, _openai_error)
CHAT = _Protocol(_tools_chat, _results_chat, _chat_answer, _openai_error)
ANTHROPIC = _Protocol(_tools_anthropic, _results_anthropic, _anthropic_answer, _anthropic_error)
GEMINI = _Protocol(_tools_gemini, _results_gemini, _gemini_answer, _gemini_error)


# --- the server ---------------------------------------------------------------------------------


class ModelEndpoint:
    """The scripted provider endpoint; use as a context manager (starts and stops the server)."""

    def __init__(self, *scripts: Script, model: str = "scripted-model") -> None:
        """``scripts``: a conversation gets the first whose ``match`` it contains."""
        if not scripts:
            raise ValueError("ModelEndpoint needs a script")
        self.scripts = scripts
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._failures = _Failures()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle
    def __enter__(self) -> ModelEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (add ``/v1`` for OpenAI-style clients)."""
        return f"http://127.0.0.1:{self.port}"

    # failure injection
    def fail_next(self, *statuses: int, message: str = "scripted endpoint error") -> None:
        """Answer the next model requests with these HTTP statuses, one each, then normally."""
        with self._lock:
            self._failures.queue.extend(statuses)
            self._failures.message = message

    def fail_always(self, status: int, message: str = "scripted endpoint error") -> None:
        with self._lock:
            self._failures.always = status
            self._failures.message = message

    def _take_failure(self) -> tuple[int, str] | None:
        with self._lock:
            if self._failures.always is not None:
                return self._failures.always, self._failures.message
            if self._failures.queue:
                return self._failures.queue.pop(0), self._failures.message
        return None

    # what the tests look at
    def model_requests(self) -> list[RecordedRequest]:
        """The recorded requests that asked for a model turn (not model lists or token counts)."""
        return [r for r in self.requests if _protocol_for(r.method, r.path) is not None]

    def received(self, text: str) -> bool:
        """Whether any recorded request body contains ``text`` (JSON-escaped as sent)."""
        needle = json.dumps(text)[1:-1]
        return any(needle in r.text or text in r.text for r in self.requests)

    # answering
    def answer(self, protocol: _Protocol, body: Json) -> tuple[Json, bytes]:
        text = json.dumps(body)
        tools = protocol.tools(body)
        script = next((s for s in self.scripts if s.match is None or s.match in text), None)
        if not tools or script is None:
            return protocol.answer(body, None, self.scripts[0].probe_answer)
        done = protocol.results(body)
        steps = script.steps
        step = steps[min(done, len(steps) - 1)]
        if step.kind == "final":
            return protocol.answer(body, None, step.text)
        return protocol.answer(body, tool_call_for(step, tools, _cwd_of(text)), "")


_GEMINI_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/[^/:]+:(\w+)$")


def _protocol_for(method: str, path: str) -> _Protocol | None:
    if method != "POST":
        return None
    if path.endswith("/responses"):
        return RESPONSES
    if path.endswith("/chat/completions"):
        return CHAT
    if path.endswith("/messages"):
        return ANTHROPIC
    found = _GEMINI_PATH.match(path)
    if found and found.group(1) in ("generateContent", "streamGenerateContent"):
        return GEMINI
    return None


def _handler_for(endpoint: ModelEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the tests read endpoint.requests

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, payload: Json) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _body(self) -> Json | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            try:
                parsed = json.loads(raw)
            except ValueError:
                return {"_raw": raw.decode(errors="replace")}
            return parsed if isinstance(parsed, dict) else {"_value": parsed}

        def _handle(self) -> None:
            url = urlsplit(self.path)
            body = self._body()
            endpoint.requests.append(
                RecordedRequest(self.command, url.path, dict(self.headers.items()), body, url.query)
            )
            protocol = _protocol_for(self.command, url.path)
            if protocol is None:
                self._other(url.path)
                return
            if (failure := endpoint._take_failure()) is not None:
                self._json(failure[0], protocol.error(*failure))
                return
            full, stream = endpoint.answer(protocol, body or {})
            wants_stream = bool((body or {}).get("stream")) or url.path.endswith(
                ":streamGenerateContent"
            )
            if wants_stream:
                self._send(200, stream, "text/event-stream")
            else:
                self._json(200, full)

        def _other(self, path: str) -> None:
            if path.endswith("/count_tokens"):
                self._json(200, {"input_tokens": 10})
            elif path.endswith(":countTokens"):
                self._json(200, {"totalTokens": 10})
            elif self.command == "GET" and path.endswith("/models"):
                model = {"id": endpoint.model, "object": "model", "created": 0, "owned_by": "test"}
                self._json(200, {"object": "list", "data": [model], "models": []})
            else:
                self._json(404, {"error": {"message": f"scripted endpoint: no route {path}"}})

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

    return Handler
