"""``AuthMiddleware``: every request and WebSocket must carry the token or the session.

Open without either: the sign-in page only, and the paths whose routes check
a per-run token of their own (runners' events under ``/api/ingest/``, the run
repositories under ``/git/``). An unauthenticated page request
is sent to ``/signin?next=…``; an API request gets 401 with
``WWW-Authenticate: Bearer``; a WebSocket is closed with code 4401 before
anything is sent on it. A cookie-authenticated WebSocket must come from this origin
(cross-site WebSocket hijacking). How a request was authenticated is left in
``scope["state"]["auth"]`` ("bearer" or "cookie") for the CSRF check.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factoryos.ui.auth import SESSION_COOKIE, Credentials, bearer, same_origin

#: Paths anyone may open: the sign-in page and the liveness probe (it says only "ok").
PUBLIC_PATHS = frozenset({"/signin", "/healthz"})
#: Paths whose routes check a token of their own (runners sending events: a per-run token).
INGEST_PREFIX = "/api/ingest/"
#: The factory git service: each run's repository, for that run's token (``api.git_router``).
GIT_PREFIX = "/git/"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        how = self._authenticate(headers)
        path: str = scope["path"]
        if scope["type"] == "websocket":
            if how is None or (
                how == "cookie" and not same_origin(headers.get("origin"), headers.get("host"))
            ):
                # Accept, then close with 4401 at once: a browser sees the code (a refused
                # handshake is only "1006") and goes to the sign-in page. Nothing is sent.
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": 4401, "reason": "sign in first"})
                return
        elif (
            how is None
            and path not in PUBLIC_PATHS
            and not path.startswith((INGEST_PREFIX, GIT_PREFIX))
        ):
            response: Response
            if path.startswith("/api/"):
                response = JSONResponse(
                    {"detail": "authentication required: send Authorization: Bearer <token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            else:
                target = path + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                response = RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["auth"] = how
        await self.app(scope, receive, send)

    def _authenticate(self, headers: Headers) -> str | None:
        if self.credentials.token_ok(bearer(headers.get("authorization"))):
            return "bearer"
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is just no session
            return None
        morsel = cookies.get(SESSION_COOKIE)
        if morsel is not None and self.credentials.session_ok(morsel.value):
            return "cookie"
        return None


#: Scripts and styles come from this server only (the pages have no inline script);
#: styles may be inline (htmx and diff2html set some); no framing, no off-site forms.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
