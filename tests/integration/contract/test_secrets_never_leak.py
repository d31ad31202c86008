"""Secrets never leak: the canaries of ``populated`` appear in nothing the factory made.

The Product passes three canary values (``engine.passEnv``, the agent's
``engine.credential``, a deploy credential) and a first stage proves the passEnv
one reached the pipeline, the deploy proves it got its credential. Then every byte
the factory produced is searched for each canary, as is and base64-encoded:
every file under the test's root (FACTORYOS_HOME with the store, the event logs,
Kilroy's logs_root, workload specs and results, evaluation reports, the deploy's
checkout; the product repository with the merged change), what ``sf up`` and every
``sf`` command printed, and what the dashboard serves: every page reachable by a
link from ``/`` and the JSON API (products, runs with their status, each run's
events, stage files).
"""

from __future__ import annotations

import base64
import re
from collections import deque
from pathlib import Path

import httpx
from populated_support import CANARY_VARS, FINISHED, RUNNING, Populated, digest_of

HREF = re.compile(r'href="(/[^"#]*)"')
#: Enough for every page of the two runs; the crawl stops there.
MAX_PAGES = 400


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _crawl(client: httpx.Client) -> dict[str, bytes]:
    """Every dashboard page reachable from ``/`` by a link (downloads included)."""
    seen: dict[str, bytes] = {}
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen or path.startswith(("/static/", "/signout")):
            continue
        response = client.get(path)
        seen[path] = response.content
        if "text/html" in response.headers.get("content-type", ""):
            queue.extend(HREF.findall(response.text.replace("&amp;", "&")))
    return seen


def _api(client: httpx.Client) -> dict[str, bytes]:
    """The JSON API's resources, events and stage listings (files: on disk and crawled)."""
    paths = ["/api/products", "/api/runs", "/api/openapi.json"]
    for product in ("quality", "slow"):
        paths.append(f"/api/products/default/{product}")
    for run in (FINISHED, RUNNING):
        paths += [f"/api/runs/default/{run}", f"/api/runs/default/{run}/events?limit=10000"]
    served = {p: client.get(p).content for p in paths}
    for run in (FINISHED, RUNNING):
        status = client.get(f"/api/runs/default/{run}").json()["status"]
        for stage in status.get("stages", []):
            url = f"/api/runs/default/{run}/stages/{stage['candidate']}/{stage['name']}/files"
            served[url] = client.get(url).content
    return served


def test_no_canary_appears_in_anything_the_factory_produced(populated: Populated) -> None:
    factory = populated.factory
    logs_root = factory.run_dir(FINISHED).logs_root(0)
    assert (logs_root / "env" / "status.json").exists(), "the env stage ran (and passed)"
    with httpx.Client(
        base_url=factory.dashboard, headers={"Authorization": f"Bearer {factory.token}"}
    ) as client:
        served = {**_crawl(client), **_api(client)}
    pages = [p for p in served if not p.startswith("/api/")]
    assert any(p.startswith(f"/runs/default/{FINISHED}/stages/") for p in pages), pages
    assert any("/raw/" in p or "/artifacts/" in p for p in pages), "run files were followed"

    files = _files(factory.root)
    assert any(p.name == "evaluation.json" for p in files)
    assert any(p.match("deploys/*/*/*/checkout/*") for p in files)
    printed = "\n".join(populated.printed).encode()

    needles = {form: var for var, value in populated.canaries.items() for form in _forms(value)}
    leaks = [f"{var} in what sf printed" for form, var in needles.items() if form in printed]
    for where, body in [
        *((str(p), p.read_bytes()) for p in files),
        *((f"GET {u}", b) for u, b in served.items()),
    ]:
        leaks += [f"{var} in {where}" for form, var in needles.items() if form in body]
    assert not leaks, leaks
    # The search does reach where a leak would be: the env stage's command (with the digest
    # of the canary, never the canary) is in Kilroy's logs_root and on the dashboard.
    digest = digest_of(populated.canaries[CANARY_VARS[0]]).encode()
    assert any(digest in p.read_bytes() for p in files if logs_root in p.parents)
    assert any(digest in body for body in served.values())
    assert len(files) > 100 and len(served) > 30, (len(files), len(served))
