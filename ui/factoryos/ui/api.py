"""The JSON API under ``/api`` and the live streams (WebSocket and SSE).

Resources are returned as ``sf -o json`` prints them. A run's events come
three ways, all resumable by sequence: ``GET .../events?after=N`` (a page of
JSON, for polling), the same URL with ``Accept: text/event-stream`` (SSE;
``Last-Event-ID`` resumes), and a WebSocket on the same URL (``?after=N``).
``/api/watch`` is a WebSocket of resource change notices. On a cluster,
runners send their events to ``/api/ingest/...`` with a per-run token (see
``factoryos.events.mirror``); the streams then serve that copy. With the same
token, a run's workloads push and clone its candidates at ``/git/runs/...``
(``git_router``, outside ``/api``: git's protocol, not JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, WebSocket
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect, WebSocketState

from factoryos import products
from factoryos.errors import FactoryError, NotFoundError
from factoryos.events import Event, SequenceGapError, last_sequence, mirror_append, run_token
from factoryos.events.streams import stream_append, stream_position
from factoryos.models import Run, dump_resource
from factoryos.models.fields import (
    LABEL_MAX_LENGTH,
    LABEL_PATTERN,
    CandidateCount,
    DnsLabel,
    NonEmptyStr,
)
from factoryos.rundata import stage_diff
from factoryos.runs import list_runs as newest_runs
from factoryos.runs import new_run, resume_run, start_run, stop_run
from factoryos.ui import git_http
from factoryos.ui.auth import bearer
from factoryos.ui.csrf import check_csrf
from factoryos.ui.hub import SlowConsumerError
from factoryos.ui.problems import COMMON, responses
from factoryos.ui.state import AppState, app_state
from factoryos.workloads import RunDirectory, candidate_branch

router = APIRouter(prefix="/api", tags=["api"], responses=responses(*COMMON))
State = Annotated[AppState, Depends(app_state)]
Guarded = [Depends(check_csrf)]

#: The path parameters, with the constraints the store enforces on names.
Namespace = Annotated[
    str,
    PathParam(pattern=LABEL_PATTERN, max_length=LABEL_MAX_LENGTH, description="An RFC 1123 label."),
]
Name = Namespace
Candidate = Annotated[int, PathParam(ge=0, description="The candidate's index.")]
#: Kilroy's node ids (``factoryos.kilroy.logsroot``).
Node = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=255)]
#: A path inside the repository, never absolute and without ``..`` segments.
RELATIVE_PATH = r"^(?!/)(?!(.*/)?\.\.(/|$))[^\x00]+$"

#: WebSocket close codes (4000-4999 are the application's).
CLOSE_NOT_FOUND = 4404
CLOSE_SLOW_CONSUMER = 4008
#: SSE clients wait this long before reconnecting.
SSE_RETRY_MS = 2000


class SequenceGap(BaseModel):
    """An ingest batch that does not continue the copy (409)."""

    detail: str = Field(description="What went wrong, in one line.")
    next: int = Field(description="The last sequence the copy holds: send from the one after.")


class EventPage(BaseModel):
    """A page of a run's events (``GET .../events`` without SSE)."""

    events: list[dict[str, Any]] = Field(description="CloudEvents, by sequence.")
    next: int = Field(description="The sequence to ask ``after`` next.")
    more: bool = Field(description="Whether more events follow.")


class StartRun(BaseModel):
    """A new run of a product."""

    model_config = ConfigDict(regex_engine="python-re")  # RELATIVE_PATH looks ahead

    product: DnsLabel = Field(description="The product to run.")
    goal: NonEmptyStr = Field(description="What the run should achieve.")
    candidates: CandidateCount | None = Field(
        default=None, description="K (default: the product's)."
    )
    namespace: DnsLabel = "default"
    name: DnsLabel | None = Field(default=None, description="Run name (default: generated).")
    pipeline: str | None = Field(
        default=None,
        pattern=RELATIVE_PATH,
        description="Pipeline path in the repository (default: the product's).",
    )


@router.get("/products", summary="List products")
def list_products(state: State, namespace: str | None = None) -> list[dict[str, Any]]:
    return [dump_resource(p) for p in products.list_products(state.store, namespace)]


@router.get("/products/{namespace}/{name}", summary="One product", responses=responses(404))
def get_product(state: State, namespace: Namespace, name: Name) -> dict[str, Any]:
    return dump_resource(products.get_product(state.store, name, namespace))


@router.get("/runs", summary="List runs, newest first")
def list_runs(
    state: State, namespace: str | None = None, product: str | None = None
) -> list[dict[str, Any]]:
    return [dump_resource(r) for r in newest_runs(state.store, namespace, product)]


@router.get(
    "/runs/{namespace}/{name}", summary="One run (spec and status)", responses=responses(404)
)
def get_run(state: State, namespace: Namespace, name: Name) -> dict[str, Any]:
    return dump_resource(state.store.get(Run, name, namespace))


@router.post(
    "/runs",
    status_code=201,
    summary="Start a run",
    dependencies=Guarded,
    responses=responses(403, 404, 409),
)
def create_run(state: State, body: StartRun) -> dict[str, Any]:
    run = new_run(
        body.product,
        body.goal,
        namespace=body.namespace,
        name=body.name,
        candidates=body.candidates,
        pipeline=body.pipeline,
        source="the request",
    )
    return dump_resource(start_run(state.store, run, state.admit))


@router.post(
    "/runs/{namespace}/{name}/stop",
    summary="Stop a run",
    dependencies=Guarded,
    responses=responses(403, 404, 409),
)
def stop(state: State, namespace: Namespace, name: Name) -> dict[str, Any]:
    return dump_resource(stop_run(state.store, name, namespace))


@router.post(
    "/runs/{namespace}/{name}/resume",
    summary="Resume a run",
    dependencies=Guarded,
    responses=responses(403, 404, 409),
)
def resume(state: State, namespace: Namespace, name: Name) -> dict[str, Any]:
    return dump_resource(resume_run(state.store, name, namespace))


@router.get(
    "/runs/{namespace}/{name}/events",
    summary="A run's events: JSON after a sequence, or SSE with Accept: text/event-stream",
    responses={
        200: {
            "description": "A page of events (JSON), or the live stream (SSE).",
            "content": {
                "application/json": {"schema": EventPage.model_json_schema()},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        **responses(404),
    },
)
async def events(
    request: Request,
    namespace: Namespace,
    name: Name,
    after: Annotated[int, Query(ge=0, description="Only events with a higher sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    state = app_state(request)
    await asyncio.to_thread(state.store.get, Run, name, namespace)
    if "text/event-stream" in request.headers.get("accept", ""):
        if last_event_id and last_event_id.isdigit():
            after = int(last_event_id)
        return StreamingResponse(
            _sse(state, namespace, name, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    found = await asyncio.to_thread(state.hub.backlog, namespace, name, after)
    page = found[:limit]
    return Response(
        json.dumps(
            {
                "events": [_event_json(e) for e in page],
                "next": page[-1].sequence if page else after,
                "more": len(found) > limit,
            }
        ),
        media_type="application/json",
    )


async def _sse(state: AppState, namespace: Namespace, name: Name, after: int) -> AsyncIterator[str]:
    yield f"retry: {SSE_RETRY_MS}\n\n"
    try:
        async with state.hub.subscribe(namespace, name, after) as stream:
            while True:
                event = await stream.next(state.heartbeat_seconds)
                if event is None:
                    yield ": heartbeat\n\n"
                    continue
                yield f"id: {event.sequence}\nevent: {event.type}\ndata: {event.json}\n\n"
    except SlowConsumerError:
        return  # the client reconnects with Last-Event-ID and loses nothing


@router.websocket("/runs/{namespace}/{name}/events")
async def events_socket(websocket: WebSocket, namespace: str, name: str, after: int = 0) -> None:
    """Backlog after ``after``, then live events: ``{"kind": "event", "event": {...}}``.

    Idle streams get ``{"kind": "heartbeat", "sequence": <last sent>}``.
    """
    state = app_state(websocket)
    try:
        await asyncio.to_thread(state.store.get, Run, name, namespace)
    except NotFoundError as exc:
        await websocket.close(CLOSE_NOT_FOUND, str(exc)[:120])
        return
    await websocket.accept()

    async def pump() -> None:
        async with state.hub.subscribe(namespace, name, max(after, 0)) as stream:
            while True:
                event = await stream.next(state.heartbeat_seconds)
                if event is None:
                    await websocket.send_json({"kind": "heartbeat", "sequence": stream.last})
                else:
                    await websocket.send_text('{"kind":"event","event":' + event.json + "}")

    await _serve_socket(websocket, pump)


@router.websocket("/watch")
async def watch_socket(websocket: WebSocket) -> None:
    """Resource change notices: ``{"kind": "change", "type": ..., "resource": {...}}``."""
    state = app_state(websocket)
    await websocket.accept()

    async def pump() -> None:
        async with state.feed.subscribe() as changes:
            while True:
                message = await changes.get(state.heartbeat_seconds)
                await websocket.send_json(message or {"kind": "heartbeat"})

    await _serve_socket(websocket, pump)


async def _serve_socket(websocket: WebSocket, pump: Any) -> None:
    """Run ``pump`` until it ends, fails, or the client goes away."""
    sender = asyncio.create_task(pump())
    receiver = asyncio.create_task(_drain(websocket))
    done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    code, reason = 1000, ""
    for task in done:
        exc = task.exception()
        if isinstance(exc, SlowConsumerError):
            code, reason = CLOSE_SLOW_CONSUMER, "slow consumer: resume from your last sequence"
        elif isinstance(exc, FactoryError):
            code, reason = 1011, str(exc)[:120]
        elif exc is not None and not isinstance(exc, WebSocketDisconnect | OSError):
            raise exc
    if websocket.application_state is WebSocketState.CONNECTED:
        # The client may be gone by now: closing then is no error worth a traceback.
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code, reason)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


#: The biggest batch of events a runner may post at once.
MAX_INGEST_BYTES = 16 * 1024 * 1024


def _ingest_allowed(request: Request, namespace: Namespace, name: Name) -> AppState:
    """The per-run token check for runners sending events (cluster mode)."""
    state = app_state(request)
    if state.ingest_key is None:
        raise NotFoundError("event ingest is off (the dashboard has no FACTORYOS_INGEST_KEY)")
    if not _run_token_ok(state.ingest_key, request, namespace, name):
        raise HTTPException(401, "this token does not allow sending events for this run")
    return state


def _run_token_ok(key: str, request: Request, namespace: Namespace, name: Name) -> bool:
    """Whether the request carries ``Authorization: Bearer <the run's token>``."""
    offered = bearer(request.headers.get("authorization")) or ""
    expected = run_token(key, namespace, name)
    return hmac.compare_digest(offered.encode(), expected.encode())


@router.get(
    "/ingest/runs/{namespace}/{name}/events",
    tags=["ingest"],
    summary="Where the dashboard's copy of a run's events ends (for its runner)",
    responses=responses(404),
)
def ingest_position(
    request: Request, namespace: Namespace, name: Name, stream: str | None = None
) -> dict[str, int]:
    state = _ingest_allowed(request, namespace, name)
    state.store.get(Run, name, namespace)
    path = state.hub.events_path(namespace, name)
    return {"next": stream_position(path, stream) if stream else last_sequence(path)}


@router.post(
    "/ingest/runs/{namespace}/{name}/events",
    tags=["ingest"],
    summary="A runner sends its run's events (NDJSON, continuing the copy)",
    responses={
        **responses(404, 413),
        409: {
            "description": "A gap: the body says which sequence comes next",
            "model": SequenceGap,
        },
    },
)
async def ingest(
    request: Request, namespace: Namespace, name: Name, stream: str | None = None
) -> Response:
    """Without ``stream``, the batch continues the run's log; with it (each workload on its
    own volume), it continues that stream, which is merged into the run's log."""
    state = _ingest_allowed(request, namespace, name)
    if int(request.headers.get("content-length") or 0) > MAX_INGEST_BYTES:
        raise HTTPException(413, f"send at most {MAX_INGEST_BYTES} bytes per batch")
    await asyncio.to_thread(state.store.get, Run, name, namespace)
    body = await request.body()
    path = state.hub.events_path(namespace, name)
    try:
        batch = body.split(b"\n")
        if stream:
            last = await asyncio.to_thread(stream_append, path, stream, name, batch)
        else:
            last = await asyncio.to_thread(mirror_append, path, name, batch)
    except SequenceGapError as exc:
        return Response(
            json.dumps({"detail": str(exc), "next": exc.expected - 1}),
            status_code=409,
            media_type="application/json",
        )
    return Response(json.dumps({"next": last}), media_type="application/json")


#: The factory git service: each run's repository, where its builds push their candidate
#: branches and its evaluation clones them (``factoryos.worker.exchange``). Git's smart
#: HTTP protocol, not a JSON API: not in the OpenAPI schema.
git_router = APIRouter(prefix="/git", include_in_schema=False)
#: The run's repository, in its run directory.
RUN_REPOSITORY = "exchange.git"
_LABEL = re.compile(LABEL_PATTERN)


@git_router.api_route("/runs/{namespace}/{name}.git/{rest:path}", methods=["GET", "POST"])
async def run_repository(request: Request, namespace: str, name: str, rest: str) -> Response:
    """``<runs_dir>/<namespace>/<name>/exchange.git`` (made on first use) over git's smart
    HTTP, for the run's own token (as for ingest); errors are plain text, which git shows."""
    state = app_state(request)
    if state.ingest_key is None:
        return git_http.refusal(
            404, "the git service is off (the dashboard has no FACTORYOS_INGEST_KEY)"
        )
    if not _run_token_ok(state.ingest_key, request, namespace, name):
        return git_http.refusal(
            401,
            "this token does not allow using this run's repository",
            {"WWW-Authenticate": "Bearer"},
        )
    if not (_LABEL.fullmatch(namespace) and _LABEL.fullmatch(name)):
        return git_http.refusal(404, f"no run {namespace}/{name}")
    try:
        await asyncio.to_thread(state.store.get, Run, name, namespace)
    except NotFoundError as exc:
        return git_http.refusal(404, str(exc))
    return await git_http.serve(
        request,
        root=RunDirectory.of(state.runs_dir, namespace, name).path,
        repository=RUN_REPOSITORY,
        rest=rest,
        remote_user=f"{namespace}/{name}",
        create=True,
    )


@router.get(
    "/runs/{namespace}/{name}/stages/{candidate}/{node}/diff",
    summary="A stage's diff",
    responses=responses(404),
)
def get_stage_diff(
    state: State, namespace: Namespace, name: Name, candidate: Candidate, node: Node
) -> dict[str, Any]:
    run = state.store.get(Run, name, namespace)
    diff = stage_diff(state.run_dir(run).repo(candidate), _branch(run, candidate), candidate, node)
    if diff is None:
        raise NotFoundError(f"stage {node!r} of candidate {candidate} has no commit yet")
    return {
        "commit": diff.commit,
        "subject": diff.subject,
        "files": [vars(f) for f in diff.files],
        "added": diff.added,
        "deleted": diff.deleted,
        "truncated": diff.truncated,
        "patch": diff.patch,
    }


@router.get(
    "/runs/{namespace}/{name}/stages/{candidate}/{node}/files",
    summary="Stage artifacts",
    responses=responses(404),
)
def get_stage_files(
    state: State, namespace: Namespace, name: Name, candidate: Candidate, node: Node
) -> list[dict[str, Any]]:
    run = state.store.get(Run, name, namespace)
    return [
        {"path": f.path, "name": f.name, "size": f.size}
        for f in state.files(run).stage_files(candidate, node)
    ]


@router.get(
    "/runs/{namespace}/{name}/files/{path:path}",
    summary="Download a run file",
    response_class=FileResponse,
    responses={
        200: {"description": "The file's bytes.", "content": {"application/octet-stream": {}}},
        **responses(404),
    },
)
def download(state: State, namespace: Namespace, name: Name, path: str) -> FileResponse:
    run = state.store.get(Run, name, namespace)
    return file_download(state, run, path)


def file_download(state: AppState, run: Run, path: str) -> FileResponse:
    """A run file as an attachment, never rendered by the browser."""
    resolved = state.files(run).resolve(path)
    return FileResponse(
        resolved,
        media_type="application/octet-stream",
        filename=resolved.name,
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _branch(run: Run, candidate: int) -> str:
    for c in run.status.candidates:
        if c.index == candidate:
            return c.branch
    return candidate_branch(run.metadata.name, candidate)


def _event_json(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)
