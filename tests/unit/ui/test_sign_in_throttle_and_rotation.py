"""Failed sign-ins are rate-limited; ``sf token rotate`` ends every session at once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from ui_support import BEARER, TOKEN, Site

from factoryos.cli.app import main as sf
from factoryos.store import LocalStore
from factoryos.tokens import load_or_create_token, rotate_token, token_path
from factoryos.ui import Dashboard, create_app
from factoryos.ui.auth import SESSION_COOKIE, TokenFile
from factoryos.ui.throttle import SIGN_IN_LIMIT, SignInThrottle

WRONG = {"Authorization": "Bearer not-the-token"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_counts_failures_per_address_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a") is None
        throttle.failed("a")
        clock.now += 10
    assert throttle.retry_after("a") == 30, "the oldest failure leaves the window in 30 s"
    assert throttle.retry_after("b") is None, "other addresses are not affected"
    clock.now += 30
    assert throttle.retry_after("a") is None


def test_the_throttle_forgets_the_oldest_addresses_first() -> None:
    throttle = SignInThrottle(limit=1, window=60, clock=Clock(), max_clients=2)
    for client in ("a", "b", "c"):
        throttle.failed(client)
    assert throttle.retry_after("a") is None
    assert throttle.retry_after("b") == 60 and throttle.retry_after("c") == 60


def test_wrong_bearer_tokens_are_throttled_even_when_the_next_one_is_right(site: Site) -> None:
    for _ in range(SIGN_IN_LIMIT):
        assert site.client.get("/api/products", headers=WRONG).status_code == 401
    refused = site.client.get("/api/products", headers=BEARER)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in refused.json()["detail"]


def test_a_signed_in_browser_keeps_working_while_its_address_is_throttled(site: Site) -> None:
    site.sign_in()
    for _ in range(SIGN_IN_LIMIT):
        site.client.post("/signin", data={"token": "guess"}, follow_redirects=False)
    form = site.client.post("/signin", data={"token": TOKEN}, follow_redirects=False)
    assert form.status_code == 429 and "too many failed sign-ins" in form.text
    assert site.client.get("/api/products").status_code == 200, "the session is not a guess"


def test_runners_per_run_tokens_are_not_sign_in_attempts(site: Site) -> None:
    for _ in range(SIGN_IN_LIMIT + 2):
        response = site.client.get("/api/ingest/runs/default/r1/events", headers=WRONG)
        assert response.status_code == 404, "ingest is off here; never 429"
    assert site.client.get("/api/products", headers=BEARER).status_code == 200


def test_rotating_the_token_ends_every_session_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old, _ = load_or_create_token(home)
    app = create_app(
        Dashboard(
            store=LocalStore(home / "factoryos.db"),
            runs_dir=home / "runs",
            credentials=TokenFile(home, old),
            admit=lambda _: None,
        )
    )
    client = TestClient(app, base_url="http://testserver")
    signed_in = client.post("/signin", data={"token": old}, follow_redirects=False)
    assert signed_in.status_code == 303 and client.cookies.get(SESSION_COOKIE)
    assert client.get("/api/products").status_code == 200

    new = rotate_token(home)

    assert new != old and stat.S_IMODE(token_path(home).stat().st_mode) == 0o600
    assert client.get("/api/products").status_code == 401, "the old session ended"
    bearer = {"Authorization": f"Bearer {old}"}
    assert client.get("/api/products", headers=bearer).status_code == 401
    bearer = {"Authorization": f"Bearer {new}"}
    assert client.get("/api/products", headers=bearer).status_code == 200


def test_sf_token_rotate_prints_the_new_token_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FACTORYOS_HOME", str(home))
    monkeypatch.delenv("FACTORYOS_CONTEXT", raising=False)
    old, _ = load_or_create_token(home)

    assert sf(["token", "rotate"]) == 0

    new = token_path(home).read_text().strip()
    out = capsys.readouterr().out
    assert new != old and f"  {new}\n" in out and old not in out


def test_sf_token_rotate_on_a_cluster_says_how_instead(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("FACTORYOS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACTORYOS_CONTEXT", "some-cluster")
    assert sf(["token", "rotate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Secret factoryos-dashboard" in err
    assert not token_path(tmp_path / "home").exists()
