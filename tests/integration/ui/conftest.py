"""Browser fixtures: Playwright for Python driving Debian's /usr/bin/chromium.

Never a downloaded browser: ``make test`` installs Debian's chromium, and the
tests fail (not skip) with that hint when it is missing, so a green run
always means a real browser ran. Screenshots go to ``build/screenshots``
(``FACTORYOS_SCREENSHOTS`` overrides) for a reviewer to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("FACTORYOS_CHROMIUM", "/usr/bin/chromium"))
#: Flags for a headless Chromium on a closed network, run as root in CI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = Path(os.environ.get("FACTORYOS_SCREENSHOTS", ROOT / "build" / "screenshots"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium) "
            "or set FACTORYOS_CHROMIUM"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(  # CSP violations and failed loads show up here
        "console", lambda m: errors.append(m.text) if m.type == "error" else None
    )
    yield opened
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, base: str, token: str, path: str = "/") -> None:
    page.goto(base.rstrip("/") + path)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")
