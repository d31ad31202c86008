"""Who may do what: the token, the session cookie, CSRF, and the sign-in page."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect
from ui_support import BEARER, TOKEN, Site, make_site

from factoryos.models import DesiredState, Run
from factoryos.tokens import load_or_create_token
from factoryos.ui import api, pages
from factoryos.ui.auth import Credentials, bearer, same_origin

PATH_VALUES = {"namespace": "default", "name": "r1", "candidate": "0", "node": "implement"}


def _concrete(path: str) -> str:
    for key, value in PATH_VALUES.items():
        path = path.replace("{" + key + "}", value)
    return path.replace("{path:path}", "c0/logs/implement/stdout.log")


def test_every_page_api_call_and_stream_needs_the_token(site: Site) -> None:
    every = [*api.router.routes, *pages.router.routes]
    routes = [r for r in every if isinstance(r, APIRoute)]
    checked = 0
    for route in routes:
        if route.path == "/signin" or route.path.startswith("/api/ingest/"):
            continue  # (runners' per-run tokens: test_event_ingest.py)
        for method in route.methods:
            response = site.client.request(method, _concrete(route.path), follow_redirects=False)
            if route.path.startswith("/api/"):
                assert response.status_code == 401, (method, route.path)
                assert response.headers["www-authenticate"] == "Bearer"
            else:
                assert response.status_code == 303, (method, route.path)
                assert response.headers["location"].startswith("/signin?next=")
            checked += 1
    assert checked >= 20
    assert site.client.get("/static/live.js", follow_redirects=False).status_code == 303
    sockets = [r for r in every if isinstance(r, APIWebSocketRoute)]
    assert len(sockets) == 2
    for route in sockets:
        with (
            site.client.websocket_connect(_concrete(route.path)) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 4401


def test_the_bearer_token_opens_the_api(site: Site) -> None:
    assert site.client.get("/api/runs", headers=BEARER).status_code == 200
    wrong = {"Authorization": "Bearer nope"}
    assert site.client.get("/api/runs", headers=wrong).status_code == 401


def test_signing_in_sets_an_httponly_strict_session_cookie(site: Site) -> None:
    bad = site.client.post("/signin", data={"token": "wrong"}, follow_redirects=False)
    assert bad.status_code == 401
    assert "not the dashboard token" in bad.text
    good = site.client.post(
        "/signin", data={"token": TOKEN, "next": "/runs/default/r1"}, follow_redirects=False
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/runs/default/r1"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert TOKEN not in cookie
    assert site.client.get("/").status_code == 200


def test_sign_in_never_redirects_off_site(site: Site) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        response = site.client.post(
            "/signin", data={"token": TOKEN, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_cookie_posts_need_the_csrf_token_and_the_same_origin(site: Site) -> None:
    site.sign_in()
    url = "/api/runs/default/r1/stop"
    assert site.client.post(url).status_code == 403
    assert site.client.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    cross = {**site.csrf, "Origin": "http://evil.example"}
    assert site.client.post(url, headers=cross).status_code == 403
    assert site.store.get(Run, "r1").spec.desired_state is DesiredState.RUNNING
    same = {**site.csrf, "Origin": "http://testserver"}
    assert site.client.post(url, headers=same).status_code == 200
    assert site.store.get(Run, "r1").spec.desired_state is DesiredState.STOPPED


def test_form_posts_carry_the_csrf_field(site: Site) -> None:
    site.sign_in()
    page = site.client.get("/runs/default/r1")
    assert f'value="{site.credentials.csrf}"' in page.text
    refused = site.client.post("/runs/default/r1/stop", data={}, follow_redirects=False)
    assert refused.status_code == 403
    done = site.client.post(
        "/runs/default/r1/stop", data={"csrf": site.credentials.csrf}, follow_redirects=False
    )
    assert done.status_code == 303


def test_bearer_clients_need_no_csrf_token(site: Site) -> None:
    assert site.client.post("/api/runs/default/r1/stop", headers=BEARER).status_code == 200


def test_a_cookie_websocket_from_another_origin_is_refused(site: Site) -> None:
    site.sign_in()
    with (
        site.client.websocket_connect(
            "/api/watch", headers={"Origin": "http://evil.example"}
        ) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4401


def test_the_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    token, created = load_or_create_token(tmp_path / "home")
    assert created and len(token) >= 40
    path = tmp_path / "home" / "dashboard-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = load_or_create_token(tmp_path / "home")
    assert (again, created_again) == (token, False)
    path.chmod(0o644)
    load_or_create_token(tmp_path / "home")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_headers_are_read_strictly() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer abc") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None
    assert same_origin(None, "h:1")
    assert same_origin("http://h:1", "h:1")
    assert not same_origin("http://h:2", "h:1")
    assert not same_origin("null", "h:1")
    creds = Credentials("t")
    assert creds.session != creds.csrf
    assert creds.session_ok(creds.session) and not creds.session_ok("t")


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    site.sign_in()
    for url in ("/", "/runs/default/r1", "/signin"):
        headers = site.client.get(url).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
    page = site.client.get("/runs/default/r1").text
    assert "<script>" not in page and " onclick=" not in page, "no inline script to allow"


def test_with_telemetry_on_every_request_is_a_span(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from starlette.testclient import TestClient

    from factoryos.telemetry import Telemetry
    from factoryos.ui import Dashboard, create_app

    site = make_site(tmp_path)
    spans = InMemorySpanExporter()
    telemetry = Telemetry.from_env("factoryos-dashboard", {}, exporter=spans)
    app = create_app(
        Dashboard(site.store, site.runs_dir, Credentials(TOKEN), lambda _: None,
                  telemetry=telemetry)
    )  # fmt: skip
    client = TestClient(app)
    assert client.get("/api/runs/default/r1", headers=BEARER).status_code == 200
    assert client.get("/healthz").status_code == 200
    telemetry.shutdown()
    names = {s.name for s in spans.get_finished_spans()}
    assert "GET /api/runs/{namespace}/{name}" in names
    assert not any("healthz" in n for n in names), "the probe is not traced"
