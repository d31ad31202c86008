"""The dashboard in a real browser, against a real ``sf up`` (control plane + dashboard).

A person starts the smoke product from its page and watches the stages change
without reloading, opens a stage's diff and an artifact, and stops a long run
and resumes it from the page. Each test saves screenshots of what it saw.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import screenshot, sign_in
from factory_support import Factory, marks_step, quality_product
from kilroy_support import SCRIPTED_AGENT, git
from playwright.sync_api import Page, expect

from factoryos.models import Run, RunPhase

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


def test_stop_a_long_run_and_resume_it_from_the_page(
    factory: Factory, page: Page, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    steps = {
        "a": marks_step(marks, "a"),
        "b": marks_step(marks, "b", 6),
        "c": marks_step(marks, "c"),
    }
    factory.sf("product", "add", "long", "--repo", str(factory.repo("long", {"pipeline": steps})))
    factory.up(dashboard=True)
    page.on("dialog", lambda dialog: dialog.accept())

    run = _start_from_page(page, factory, "long", "sleep a while")
    expect(page.locator("#graph g.node[data-node=b]")).to_have_attribute(
        "data-state", "running", timeout=30_000
    )
    page.click("#stop")
    expect(page.locator("#phase")).to_have_text("Stopped", timeout=30_000)
    expect(page.locator("#resume")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    stopped: Run = factory.run(run)
    assert stopped.status.phase is RunPhase.STOPPED
    screenshot(page, "run-stopped")

    assert marks.read_text().split() == ["a"], "stage b was stopped before it completed"

    page.click("#resume")
    expect(page.locator("#graph g.node[data-node=b]")).to_have_attribute(
        "data-state", "running", timeout=30_000
    )
    expect(page.locator("#phase")).to_have_text("Succeeded", timeout=90_000)
    assert marks.read_text().split() == ["a", "b", "c"], "a was not rerun after the resume"
    screenshot(page, "run-resumed")


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
    expect(gate).to_contain_text("39/39 acceptance trials passed")  # alpha / 3 iterations
    screenshot(page, "run-converged")
    page.click("text=report-i1")
    expect(page.locator("#preview")).to_contain_text("Iteration 1: accepted")
