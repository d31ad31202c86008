"""``AuthMiddleware``: every request and WebSocket must carry the token or the session.

Open without either: the sign-in page only, and the paths whose routes check
a per-run token of their own (runners' events under ``/api/ingest/``, the run
repositories under ``/git/``). An unauthenticated page request
is sent to ``/signin?next=…``; an API request gets 401 with
``WWW-Authenticate: Bearer``; a WebSocket is closed with code 4401 before
anything is sent on it. A cookie-authenticated WebSocket must come from this origin
(cross-site WebSocket hijacking). A wrong bearer token counts against the
client's address in the ``SignInThrottle``; a throttled address gets 429 (a
WebSocket: close code 4429) without its token being looked at. How a request
was authenticated is left in ``scope["state"]["auth"]`` ("bearer" or "cookie")
for the CSRF check.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factoryos.ui.auth import SESSION_COOKIE, CredentialSource, bearer, same_origin
from factoryos.ui.throttle import SignInThrottle, too_many_message

#: Paths anyone may open: the sign-in page and the liveness probe (it says only "ok").
PUBLIC_PATHS = frozenset({"/signin", "/healthz"})
#: Paths whose routes check a token of their own (runners sending events: a per-run token).
INGEST_PREFIX = "/api/ingest/"
#: The factory git service: each run's repository, for that run's token (``api.git_router``).
GIT_PREFIX = "/git/"


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, credentials: CredentialSource, throttle: SignInThrottle
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        # Runners' routes check a per-run token of their own: not a dashboard sign-in attempt.
        own_token = path.startswith((INGEST_PREFIX, GIT_PREFIX))
        how = self._authenticate(headers, None if own_token else client_address(scope))
        if isinstance(how, int):  # too many wrong tokens from this address: not even checked
            await self._refuse_throttled(scope, receive, send, how)
            return
        if scope["type"] == "websocket":
            if how is None or (
                how == "cookie" and not same_origin(headers.get("origin"), headers.get("host"))
            ):
                # Accept, then close with 4401 at once: a browser sees the code (a refused
                # handshake is only "1006") and goes to the sign-in page. Nothing is sent.
                await _close_socket(receive, send, 4401, "sign in first")
                return
        elif how is None and path not in PUBLIC_PATHS and not own_token:
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

    def _authenticate(self, headers: Headers, client: str | None) -> str | int | None:
        """ "bearer", "cookie", None (neither), or the seconds a throttled client must wait
        (``client`` None: a route with its own token, where a bearer is not a sign-in)."""
        credentials = self.credentials.current()
        offered = bearer(headers.get("authorization"))
        if offered is not None and client is not None:
            wait = self.throttle.retry_after(client)
            if wait is not None:
                return wait
            if credentials.token_ok(offered):
                return "bearer"
            self.throttle.failed(client)
        elif offered is not None and credentials.token_ok(offered):
            return "bearer"
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is just no session
            return None
        morsel = cookies.get(SESSION_COOKIE)
        if morsel is not None and credentials.session_ok(morsel.value):
            return "cookie"
        return None

    async def _refuse_throttled(
        self, scope: Scope, receive: Receive, send: Send, seconds: int
    ) -> None:
        if scope["type"] == "websocket":
            await _close_socket(receive, send, CLOSE_TOO_MANY, "too many failed sign-ins")
            return
        response = JSONResponse(
            {"detail": too_many_message(seconds)},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)


#: The WebSocket close code for a throttled client (4000 + the HTTP status).
CLOSE_TOO_MANY = 4429


def client_address(scope: Scope) -> str:
    """The peer's address (what the throttle counts by); "unknown" when the server has none."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _close_socket(receive: Receive, send: Send, code: int, reason: str) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code, "reason": reason})


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
