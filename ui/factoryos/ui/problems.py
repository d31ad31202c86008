"""The API's one error shape, ``{"detail": "<one line>"}``, and where each status comes from.

Every error the dashboard answers on ``/api`` has the body ``Problem`` and a
status from ``STATUSES``: the core's errors (``factoryos.errors``, mapped by
``http_status``), FastAPI's request validation (one line naming each bad field,
not FastAPI's list), Starlette's HTTP exceptions (405 with an ``Allow`` header
that lists every method of the path, not just those of the first route that
matched it), the auth middleware's 401 and 429. ``responses(...)`` documents a
route's statuses in the OpenAPI schema with the same model; ``install`` puts the
handlers on an app (``create_app``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from factoryos.errors import ConflictError, FactoryError, InvalidInputError, NotFoundError


class Problem(BaseModel):
    """Every API error: one line saying what went wrong and, where it helps, what to do."""

    detail: str = Field(description="What went wrong, in one line.")


#: What each error status means on this API.
STATUSES: dict[int, str] = {
    400: "The request is malformed (not valid HTTP, JSON or form data).",
    401: "No valid token: send Authorization: Bearer <token> (or sign in).",
    403: "A cookie-authenticated change without the CSRF token or from another origin.",
    404: "The product, run, stage or file does not exist (or the feature is off).",
    409: "A conflict: the name is taken, a write lost a race, or an event sequence gap.",
    413: "The body is larger than this route accepts.",
    422: "A parameter or field has a bad value (the detail names each).",
    429: "Too many failed sign-ins from this address: wait Retry-After seconds.",
}

#: What every ``/api`` route may answer, besides its own statuses.
COMMON = (400, 401, 422, 429)

#: How the core's errors map to HTTP statuses (the first base class listed wins).
STATUS_OF: tuple[tuple[type[FactoryError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of ``codes``, each with the ``Problem`` body."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": Problem, "description": STATUSES[code]}
        if code == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        entries[code] = entry
    return entries


def http_status(exc: FactoryError) -> int:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def validation_summary(errors: Iterable[Any]) -> str:
    """FastAPI's validation errors as one line: ``where: what; where: what``."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route of ``app`` serves at the request's path."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "type": "http", "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


def install(app: FastAPI, on_page_error: Any) -> None:
    """Put the error handlers on ``app``: JSON ``Problem`` under ``/api``, ``on_page_error``
    (request, status, message) -> Response for the pages."""

    async def factory_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FactoryError)
        status = http_status(exc)
        if request.url.path.startswith("/api/"):
            return problem(status, str(exc))
        response: Response = on_page_error(request, status, str(exc))
        return response

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem(422, validation_summary(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        if exc.status_code in {204, 304}:
            return Response(status_code=exc.status_code, headers=headers)
        return problem(exc.status_code, str(exc.detail), headers)

    app.add_exception_handler(FactoryError, factory_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
