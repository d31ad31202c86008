"""What the pages and the API show and do, over a hand-made run."""

from __future__ import annotations

import re

from ui_support import BEARER, Site

from factoryos.models import AcceptanceMethod, DesiredState, Evaluation, OcPoint, Run, RunPhase


def test_the_products_page_lists_status_last_run_repo_and_branch(site: Site) -> None:
    site.sign_in()
    page = site.client.get("/").text
    row = re.search(r'<tr data-product="p">.*?</tr>', page, re.S)
    assert row is not None
    assert "r1" in row.group(0) and "Building" in row.group(0)
    assert "main" in row.group(0) and "/product" in row.group(0)


def test_the_run_page_has_the_graph_stages_events_and_its_cursor(site: Site) -> None:
    site.sign_in()
    page = site.client.get("/runs/default/r1").text
    assert 'data-cursor="2"' in page
    assert 'data-node="implement"' in page and "<svg" in page
    assert re.search(r'<tr data-stage="implement" data-state="running">', page)
    assert page.count('<li data-seq="') == 2
    assert 'id="stop"' in page and re.search(r'id="resume"\s+disabled', page)


def test_the_stage_page_shows_its_diff_and_artifacts(site: Site) -> None:
    site.sign_in()
    page = site.client.get("/runs/default/r1/stages/0/implement").text
    assert "attractor(c0): implement (success)" in page
    assert "+new line" in page  # the patch, as JSON for diff2html
    assert "c0/logs/implement/stdout.log" in page and "blob.bin" in page
    preview = site.client.get("/runs/default/r1/artifacts/c0/logs/implement/stdout.log").text
    assert "implemented" in preview
    binary = site.client.get("/runs/default/r1/artifacts/c0/logs/implement/blob.bin").text
    assert "A binary file" in binary


def test_downloads_are_attachments_never_rendered(site: Site) -> None:
    site.sign_in()
    response = site.client.get("/runs/default/r1/raw/c0/logs/implement/stdout.log")
    assert response.content == b"implemented\n"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_traversal_gets_404_everywhere(site: Site) -> None:
    site.sign_in()
    secret = site.runs_dir.parent / "dashboard-token"
    secret.write_text("secret\n")
    for prefix in (
        "/runs/default/r1/raw/",
        "/runs/default/r1/artifacts/",
        "/api/runs/default/r1/files/",
    ):
        for path in ("../../../dashboard-token", "..%2F..%2F..%2Fdashboard-token", "/etc/passwd"):
            response = site.client.get(prefix + path, headers=BEARER)
            assert response.status_code == 404, prefix + path
            assert "secret" not in response.text
    assert site.client.get("/runs/default/r1/stages/0/..", headers=BEARER).status_code == 404


def test_the_api_returns_resources_as_sf_prints_them(site: Site) -> None:
    runs = site.client.get("/api/runs", headers=BEARER).json()
    assert [r["metadata"]["name"] for r in runs] == ["r1"]
    assert runs[0]["status"]["phase"] == "Building"
    assert site.client.get("/api/products/default/p", headers=BEARER).json()["kind"] == "Product"
    missing = site.client.get("/api/runs/default/nope", headers=BEARER)
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    diff = site.client.get("/api/runs/default/r1/stages/0/implement/diff", headers=BEARER).json()
    assert diff["files"] == [{"path": "feature.txt", "added": 1, "deleted": 0}]
    files = site.client.get("/api/runs/default/r1/stages/0/implement/files", headers=BEARER)
    assert {f["name"] for f in files.json()} == {"stdout.log", "blob.bin"}
    assert (
        "/api/runs/{namespace}/{name}/events"
        in site.client.get("/api/openapi.json", headers=BEARER).json()["paths"]
    )


def test_events_page_by_sequence(site: Site) -> None:
    first = site.client.get("/api/runs/default/r1/events?after=0&limit=1", headers=BEARER).json()
    assert [e["sequence"] for e in first["events"]] == [1]
    assert first["next"] == 1 and first["more"] is True
    rest = site.client.get("/api/runs/default/r1/events?after=1", headers=BEARER).json()
    assert [e["sequence"] for e in rest["events"]] == [2] and rest["more"] is False


def test_start_stop_resume_change_the_spec_as_sf_does(site: Site) -> None:
    created = site.client.post(
        "/api/runs", json={"product": "p", "goal": "do it", "candidates": 2}, headers=BEARER
    )
    assert created.status_code == 201
    name = created.json()["metadata"]["name"]
    assert name.startswith("p-") and site.admitted[-1].metadata.name == name
    assert site.store.get(Run, name).spec.candidates == 2

    stopped = site.client.post(f"/api/runs/default/{name}/stop", headers=BEARER).json()
    assert stopped["spec"]["desiredState"] == "Stopped"
    resumed = site.client.post(f"/api/runs/default/{name}/resume", headers=BEARER).json()
    assert resumed["spec"]["desiredState"] == "Running"

    bad = site.client.post("/api/runs", json={"product": "p", "goal": ""}, headers=BEARER)
    assert bad.status_code == 422 and "goal" in bad.json()["detail"]


def test_a_finished_run_cannot_be_resumed(site: Site) -> None:
    run = site.store.get(Run, "r1")
    run.status.phase = RunPhase.SUCCEEDED
    site.store.update_status(run)
    refused = site.client.post("/api/runs/default/r1/resume", headers=BEARER)
    assert refused.status_code == 409 and "start a new run" in refused.json()["detail"]
    assert site.store.get(Run, "r1").spec.desired_state is DesiredState.RUNNING


def test_the_start_form_reports_bad_input_on_the_page(site: Site) -> None:
    site.sign_in()
    response = site.client.post(
        "/products/default/p/runs",
        data={"csrf": site.credentials.csrf, "goal": "x", "candidates": "many"},
        follow_redirects=False,
    )
    assert response.status_code == 422 and "K must be a whole number" in response.text
    started = site.client.post(
        "/products/default/p/runs",
        data={"csrf": site.credentials.csrf, "goal": "from the form", "candidates": "1"},
        follow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/runs/default/p-")


def test_the_gate_card_shows_the_decision_looks_instances_and_the_oc_curve(site: Site) -> None:
    run = site.store.get(Run, "r1")
    run.status.evaluation = Evaluation(
        candidate=0, n=190, k=190, lower_bound=0.9843, target=0.98, alpha=0.05, accepted=True,
        reason="accepted at look 19 of 65", method=AcceptanceMethod.SEQUENTIAL, looks_taken=19,
        looks_planned=65, max_trials=650, instances=800,
        oc=[OcPoint(rate=r, accept=a) for r, a in [(0.9, 0.0), (0.98, 0.048), (1.0, 1.0)]],
    )  # fmt: skip
    site.store.update_status(run)
    site.sign_in()
    page = site.client.get("/runs/default/r1").text
    card = re.search(r'<section class="card gate".*?</section>', page, re.S)
    assert card is not None and 'data-accepted="true"' in card.group(0)
    assert "190/190 acceptance trials passed" in card.group(0)
    assert "sequential test, decided at look 19 of 65" in card.group(0)
    assert "190 trials = 190 distinct instances (of 800 in the acceptance pool)" in card.group(0)
    line = re.search(r'<polyline[^>]*points="([^"]+)"', card.group(0))
    assert line is not None and line.group(1).split() == ["20.0,90.0", "172.0,86.2", "210.0,10.0"]
