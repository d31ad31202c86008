"""``check_csrf``: the cross-site request check for state-changing requests.

A request authenticated with the bearer token cannot be forged by another
site (a browser never adds that header on its own), so it passes. One
authenticated by the session cookie must come from this origin (when the
browser sends ``Origin``) and carry the CSRF token, as the
``X-CSRF-Token`` header (htmx sends it) or the ``csrf`` form field.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from factoryos.ui.auth import CSRF_FIELD, CSRF_HEADER, same_origin
from factoryos.ui.state import app_state


async def check_csrf(request: Request) -> None:
    if request.scope.get("state", {}).get("auth") == "bearer":
        return
    if not same_origin(request.headers.get("origin"), request.headers.get("host")):
        raise HTTPException(403, "cross-site request refused")
    offered = request.headers.get(CSRF_HEADER)
    if offered is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        offered = value if isinstance(value, str) else None
    if not app_state(request).credentials.current().csrf_ok(offered):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
