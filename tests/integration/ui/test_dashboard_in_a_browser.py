"""The dashboard in a real browser, against a real ``sf up`` (control plane + dashboard).

A person starts the smoke product from its page and watches the stages change
without reloading, opens a stage's diff and an artifact, and stops a long run
and resumes it from the page. Each test saves screenshots of what it saw.

A test waits first for the run's real state (read from the store, with a
generous timeout: a loaded machine makes runs slow), then gives the page
``PAGE_LAG_MS`` to show it, so a slow run never reads as a stale page.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import screenshot, sign_in
from factory_support import Factory, marks_step, quality_product
from kilroy_support import SCRIPTED_AGENT, git
from playwright.sync_api import APIResponse, Page, Route, expect

from factoryos.evals.gate import gate_design
from factoryos.models import Run, RunPhase, StageState
from factoryos.store import modify

#: Slow, 10-15 s a test (a browser and whole runs): not in `make test-fast`.
#: Its pipelines write marks (or wait on gates) outside their candidate: no sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]

#: How long a run may take to reach a state (a loaded machine makes it slow).
RUN_TIMEOUT_S = 120.0
#: How long the page may take to show a state the run has reached: a change
#: notice over the WebSocket, then one fragment fetch.
PAGE_LAG_MS = 15_000

SMOKE = Path(__file__).resolve().parents[3] / "examples" / "products" / "smoke"

#: Records every state a graph node shows, from the first paint on.
WATCH_NODE_STATES = """
window.__states = {};
const record = (node) => {
  const seen = (window.__states[node.dataset.node] ||= []);
  if (seen[seen.length - 1] !== node.dataset.state) seen.push(node.dataset.state);
};
document.addEventListener("readystatechange", () => {
  if (document.readyState !== "interactive") return;
  document.querySelectorAll("g.node[data-node]").forEach(record);
  new MutationObserver((changes) => changes.forEach((c) => {
    if (c.target.matches && c.target.matches("g.node[data-node]")) record(c.target);
  })).observe(document.body, { attributes: true, attributeFilter: ["data-state"], subtree: true });
});
"""


def _smoke_product(factory: Factory) -> None:
    repo = factory.root / "repos" / "smoke"
    shutil.copytree(SMOKE, repo, ignore=shutil.ignore_patterns("__pycache__", "deploy-plan.json"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "smoke"], check=True, env=factory.env)
    factory.sf(
        "product", "add", "smoke", "--repo", str(repo),
        "--agent-profile", "test_shim", "--agent-executable", str(SCRIPTED_AGENT),
    )  # fmt: skip


def _start_from_page(page: Page, factory: Factory, product: str, goal: str) -> str:
    sign_in(page, factory.dashboard, factory.token)
    page.click(f"#products tr[data-product={product}] a")
    page.fill("input[name=goal]", goal)
    page.click("form.start button[type=submit]")
    page.wait_for_url("**/runs/default/**")
    return page.url.rsplit("/", 1)[-1].split("?")[0]


def test_start_the_smoke_product_and_watch_its_stages_live(factory: Factory, page: Page) -> None:
    _smoke_product(factory)
    factory.up(dashboard=True)
    page.add_init_script(WATCH_NODE_STATES)

    run = _start_from_page(page, factory, "smoke", "Switch on the health endpoint")
    page.evaluate("window.__sameDocument = true")

    stage_test = page.locator("#graph g.node[data-node=test]")
    expect(stage_test).to_have_attribute("data-state", "running", timeout=30_000)
    expect(page.locator("#graph g.node[data-node=deploy_dryrun]")).to_have_attribute(
        "data-state", "succeeded", timeout=60_000
    )
    expect(page.locator("#phase")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#stages tr[data-stage=test]")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#live")).to_have_text("live")

    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    states = page.evaluate("window.__states")
    assert states["test"][0] == "pending"
    assert "running" in states["test"] and states["test"][-1] == "succeeded"
    assert states["fail_sink"] == ["pending"]
    events = page.locator("#events li")
    assert events.count() == len(factory.events(run)), "every event is shown once"
    sequences = [int(s) for s in events.evaluate_all("(els) => els.map(e => e.dataset.seq)")]
    assert sequences == list(range(1, len(sequences) + 1))
    assert factory.run(run).status.phase is RunPhase.SUCCEEDED
    screenshot(page, "run-succeeded")

    page.goto(factory.dashboard)
    expect(page.locator("#products tr[data-product=smoke] .badge").last).to_have_text("Succeeded")
    screenshot(page, "products")
    page.click("#products tr[data-product=smoke] a")
    expect(page.locator(f"#runs tr[data-run={run}]")).to_be_visible()
    screenshot(page, "product")


def test_open_a_stage_diff_and_an_artifact(factory: Factory, page: Page) -> None:
    _smoke_product(factory)
    factory.up(dashboard=True)
    factory.sf("run", "start", "smoke", "--goal", "health", "--name", "smoke-1", "--wait")
    sign_in(page, factory.dashboard, factory.token, "/runs/default/smoke-1")

    plan = page.locator("#deploy-plan")
    expect(plan).to_contain_text("Deploy plan (dry run)")
    expect(plan).to_contain_text("fly.toml")
    screenshot(page, "run-deploy-plan")
    assert page.locator("#run-artifacts a", has_text="deploy-plan.json").all_inner_texts() == [
        "deploy_dryrun/deploy-plan.json"
    ], "one plan, from the stage that made it"
    plan.locator("a:text-is('deploy-plan.json')").click()
    expect(page.locator("#preview")).to_contain_text('"dry_run": true')
    page.go_back()

    page.click("#graph g.node[data-node=implement]")
    page.wait_for_url("**/stages/0/implement")
    diff = page.locator("#diff .d2h-file-wrapper")
    expect(diff).to_contain_text("features.txt")
    expect(page.locator("#diff .d2h-ins").filter(has_text="health").first).to_be_visible()
    screenshot(page, "stage-diff-side-by-side")
    page.click("text=unified")
    expect(page.locator("#diff .d2h-file-diff")).to_be_visible()

    page.goto(factory.dashboard.rstrip("/") + "/runs/default/smoke-1/stages/0/test")
    page.click("#artifacts a:text-is('stdout.log')")
    expect(page.locator("#preview")).to_contain_text("passed")
    screenshot(page, "artifact-preview")
    with page.expect_download() as download:
        page.click("#download")
    saved = Path(download.value.path())
    assert (
        saved.read_text()
        == (factory.run_dir("smoke-1").logs_root(0) / "test" / "stdout.log").read_text()
    )

    response = page.request.get(
        factory.dashboard.rstrip("/") + "/runs/default/smoke-1/raw/c0/../../../dashboard-token"
    )
    assert response.status == 404


def gated_step(marks: Path, name: str, gate: Path) -> str:
    """A tool command that runs until the file ``gate`` exists, then records step ``name``."""
    wait = f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.1; done"
    return f"{wait}; echo {name} >> {shlex.quote(str(marks))}"


def _stage_running(name: str) -> Callable[[Run], bool]:
    def running(run: Run) -> bool:
        return any(s.name == name and s.status is StageState.RUNNING for s in run.status.stages)

    return running


def _phase(phase: RunPhase) -> Callable[[Run], bool]:
    return lambda run: run.status.phase is phase


def _long_product(factory: Factory, marks: Path, gate: Path) -> None:
    """Stages a, b, c; b runs until the test creates ``gate`` (never on its own)."""
    steps = {
        "a": marks_step(marks, "a"),
        "b": gated_step(marks, "b", gate),
        "c": marks_step(marks, "c"),
    }
    factory.sf("product", "add", "long", "--repo", str(factory.repo("long", {"pipeline": steps})))


def test_stop_a_long_run_and_resume_it_from_the_page(
    factory: Factory, page: Page, tmp_path: Path
) -> None:
    marks, gate = tmp_path / "marks", tmp_path / "let-b-finish"
    _long_product(factory, marks, gate)
    factory.up(dashboard=True)
    page.on("dialog", lambda dialog: dialog.accept())
    node_b = page.locator("#graph g.node[data-node=b]")

    run = _start_from_page(page, factory, "long", "wait for the gate")
    factory.wait_run(run, _stage_running("b"), timeout=RUN_TIMEOUT_S)
    expect(node_b).to_have_attribute("data-state", "running", timeout=PAGE_LAG_MS)
    page.click("#stop")
    # Stopping takes the control plane, the runner, Kilroy and the stage's processes:
    # seconds, more on a loaded machine. Wait for the run to be Stopped, then the page.
    factory.wait_run(run, _phase(RunPhase.STOPPED), timeout=RUN_TIMEOUT_S)
    expect(page.locator("#phase")).to_have_text("Stopped", timeout=PAGE_LAG_MS)
    expect(page.locator("#resume")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    screenshot(page, "run-stopped")

    assert marks.read_text().split() == ["a"], "stage b was stopped before it completed"

    page.click("#resume")
    factory.wait_run(run, _stage_running("b"), timeout=RUN_TIMEOUT_S)
    expect(node_b).to_have_attribute("data-state", "running", timeout=PAGE_LAG_MS)
    gate.touch()
    factory.wait_run(run, _phase(RunPhase.SUCCEEDED), timeout=RUN_TIMEOUT_S)
    expect(page.locator("#phase")).to_have_text("Succeeded", timeout=PAGE_LAG_MS)
    assert marks.read_text().split() == ["a", "b", "c"], "a was not rerun after the resume"
    screenshot(page, "run-resumed")


def _poll(page: Page, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for ``check`` while Playwright runs (route handlers run only then).

    A RuntimeError, not an AssertionError: a setup that fails is not the bug.
    (``page.wait_for_function`` cannot be used: the dashboard's CSP forbids eval.)
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the setup failed: timed out after {timeout:g}s waiting for {what}")
        page.wait_for_timeout(50)


#: Records, in the page, when a change notice says this run is Stopped and when
#: htmx is asked for a status fragment after that.
WATCH_REFRESHES = """
window.__stoppedNotice = false;
window.__askedAfterStop = 0;
document.addEventListener("factory-run-change", (e) => {
  const r = e.detail && e.detail.resource;
  if (r && r.phase === "Stopped") window.__stoppedNotice = true;
}, true);
document.addEventListener("htmx:confirm", () => {
  if (window.__stoppedNotice) window.__askedAfterStop += 1;
}, true);
"""


def test_a_change_that_comes_while_the_status_is_being_fetched_is_shown(
    factory: Factory, page: Page, tmp_path: Path
) -> None:
    """A slow fragment fetch (a loaded machine) must not leave the page behind the run.

    The fetch is held deterministically: the server renders it at once (the run is
    Building), the browser gets the answer only after the run is Stopped and the page
    has been told so.
    """
    marks, gate = tmp_path / "marks", tmp_path / "let-b-finish"
    _long_product(factory, marks, gate)
    factory.up(dashboard=True)
    factory.sf("run", "start", "long", "--goal", "wait for the gate", "--name", "held")
    factory.wait_run("held", _stage_running("b"), timeout=RUN_TIMEOUT_S)

    holding = False
    held: list[tuple[Route, APIResponse]] = []

    def fragments(route: Route) -> None:
        if holding:
            held.append((route, route.fetch()))  # the server answers now, the page later
        else:
            route.continue_()

    page.route("**/fragments/**", fragments)
    page.add_init_script(WATCH_REFRESHES)
    sign_in(page, factory.dashboard, factory.token, "/runs/default/held")
    expect(page.locator("#graph g.node[data-node=b]")).to_have_attribute(
        "data-state", "running", timeout=PAGE_LAG_MS
    )

    holding = True  # a label is a change the page refreshes on, and the run goes on as it was
    modify(factory.store, Run, "held", "default", lambda r: r.metadata.labels.update(t="1"))
    _poll(page, lambda: bool(held), "the status fragment to be fetched")
    if 'data-state="building"' not in held[0][1].text():
        raise RuntimeError("the setup failed: the held status fragment is not a Building run's")

    factory.sf("run", "stop", "held")
    factory.wait_run("held", _phase(RunPhase.STOPPED), timeout=RUN_TIMEOUT_S)
    _poll(page, lambda: page.evaluate("window.__askedAfterStop") > 0, "a refresh after Stopped")
    holding = False
    for route, response in held:
        route.fulfill(response=response)
    expect(page.locator("#phase")).to_have_text("Stopped", timeout=PAGE_LAG_MS)


def test_a_converged_run_shows_its_candidates_and_the_gate(factory: Factory, page: Page) -> None:
    quality_product(factory, {0: "broken", 1: "partial", 2: "correct", 3: "broken"})
    factory.up(dashboard=True)
    factory.sf("run", "start", "quality", "--goal", "greet", "--name", "q-1", "--wait")
    sign_in(page, factory.dashboard, factory.token, "/runs/default/q-1?candidate=2")

    rows = page.locator("#candidates tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("ScreenedOut")
    expect(rows.nth(0)).to_contain_text("typecheck/compile")
    expect(rows.nth(1)).to_contain_text("Eliminated")
    expect(rows.nth(1)).to_contain_text("0.750 (24/32)")  # trialsPerRound: 32
    expect(rows.nth(2)).to_contain_text("Winner")
    gate = page.locator("#gate")
    expect(gate).to_have_attribute("data-accepted", "true")
    earliest = gate_design("sequential", 0.9, 0.05, "one-sided", 0.9, None, 3).earliest_accept
    expect(gate).to_contain_text(f"{earliest}/{earliest} acceptance trials passed")  # alpha / 3
    expect(gate).to_contain_text(f"{earliest} distinct instances (of 306 in the acceptance pool)")
    expect(page.locator("#gate-oc polyline")).to_have_count(1)
    screenshot(page, "run-converged")
    page.click("text=report-i1")
    expect(page.locator("#preview")).to_contain_text("Iteration 1: accepted")
