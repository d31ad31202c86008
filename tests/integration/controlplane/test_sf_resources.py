"""``sf apply``, ``sf product`` and ``sf run`` as a user meets them: results, output, refusals.

Every refusal is one line on stderr (``sf: error: ...``), a non-zero exit
status, and an unchanged store (its version does not move).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from factory_support import Factory, marks_step, wait_for
from test_controlplane_runs import _phase, _stage_running

from factoryos.kilroy.procs import run_processes
from factoryos.models import Product, Run, RunPhase

EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_NO_CONTROL_PLANE = 2, 3, 4, 6


def _product_yaml(name: str, repo: Path, **spec: object) -> str:
    doc = {
        "apiVersion": "factoryos.dev/v1alpha1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": {"repo": {"path": str(repo)}, **spec},
    }
    return yaml.safe_dump(doc)


def _run_yaml(name: str, product: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: factoryos.dev/v1alpha1
        kind: Run
        metadata: {{name: {name}}}
        spec: {{productRef: {{name: {product}}}, goal: do it}}
        """
    )


def _refused(factory: Factory, *args: str, stdin: str | None = None) -> tuple[int, str]:
    before = factory.store.version()
    done = factory.sf(*args, check=False, stdin=stdin)
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sf: error: "), done.stderr
    assert factory.store.version() == before, "a refused command changed the store"
    return done.returncode, lines[0]


@pytest.fixture
def repo(factory: Factory, tmp_path: Path) -> Path:
    return factory.repo("app", {"pipeline": {"build": marks_step(tmp_path / "marks", "build")}})


def test_apply_creates_then_reports_unchanged_and_configured(factory: Factory, repo: Path) -> None:
    text = _product_yaml("app", repo) + "---\n" + _run_yaml("app-1", "app")

    first = factory.sf("apply", "-f", "-", stdin=text)
    again = factory.sf("apply", "-f", "-", stdin=text)
    changed = factory.sf(
        "apply", "-f", "-", "-o", "json", stdin=_product_yaml("app", repo, concurrency=2)
    )

    assert first.stdout.split("\n")[:2] == [
        "product.factoryos.dev/app created",
        "run.factoryos.dev/app-1 created",
    ]
    assert "product.factoryos.dev/app unchanged" in again.stdout
    assert json.loads(changed.stdout) == [
        {"kind": "Product", "name": "app", "result": "configured"}
    ]
    product = factory.store.get(Product, "app")
    assert product.spec.concurrency == 2 and product.metadata.generation == 2


BAD_INPUT = {
    "invalid-yaml": (
        lambda good, bad: good + "---\nkind: [unclosed\n",
        EXIT_INVALID,
        "not valid YAML",
    ),
    "unknown-kind": (
        lambda good, bad: good + "---\napiVersion: factoryos.dev/v1alpha1\nkind: Widget\n",
        EXIT_INVALID,
        'unknown kind "Widget"',
    ),
    "unknown-field": (
        lambda good, bad: good + "---\n" + _product_yaml("other", bad, colour="blue"),
        EXIT_INVALID,
        "colour",
    ),
    "unknown-product": (
        lambda good, bad: good + "---\n" + _run_yaml("r", "nobody"),
        EXIT_NOT_FOUND,
        "product 'nobody' not found",
    ),
    "missing-repo": (
        lambda good, bad: good + "---\n" + _product_yaml("gone", bad / "no-such-repo"),
        EXIT_INVALID,
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_apply_refuses_bad_input_and_changes_nothing(
    factory: Factory, repo: Path, tmp_path: Path, case: str
) -> None:
    build, code, says = BAD_INPUT[case]
    text = build(_product_yaml("app", repo), tmp_path)

    got, line = _refused(factory, "apply", "-f", "-", stdin=text)

    assert got == code
    assert says in line
    assert factory.store.list(Product) == []  # not even the good document before the bad one


@pytest.mark.slow
def test_product_add_refuses_duplicates_missing_repos_and_bad_pipelines(
    factory: Factory, repo: Path, tmp_path: Path
) -> None:
    factory.sf("product", "add", "app", "--repo", str(repo))
    broken = factory.repo("broken", {"pipeline": {"x": "true"}})
    (broken / "pipeline.dot").write_text("digraph broken { start [shape=Mdiamond] }\n")
    subprocess.run(
        ["git", "-C", str(broken), "commit", "-qam", "break"], check=True, env=factory.env
    )

    assert _refused(factory, "product", "add", "app", "--repo", str(repo))[0] == EXIT_CONFLICT
    code, line = _refused(factory, "product", "add", "nope", "--repo", str(tmp_path / "nowhere"))
    assert code == EXIT_INVALID and "does not exist" in line
    code, line = _refused(factory, "product", "add", "broken", "--repo", str(broken))
    assert code == EXIT_INVALID and "pipeline" in line and "error" in line
    code, line = _refused(factory, "product", "add", "Bad_Name", "--repo", str(repo))
    assert code == EXIT_INVALID and "RFC 1123" in line


@pytest.mark.slow
def test_run_start_refuses_unknown_products_duplicates_and_bad_pipelines(
    factory: Factory, repo: Path
) -> None:
    factory.sf("product", "add", "app", "--repo", str(repo))
    factory.sf("run", "start", "app", "--goal", "g", "--name", "app-1")

    assert _refused(factory, "run", "start", "ghost", "--goal", "g")[0] == EXIT_NOT_FOUND
    assert (
        _refused(factory, "run", "start", "app", "--goal", "g", "--name", "app-1")[0]
        == EXIT_CONFLICT
    )
    code, line = _refused(factory, "run", "start", "app", "--goal", "g", "--pipeline", "nope.dot")
    assert code == EXIT_INVALID and "nope.dot not found" in line


@pytest.mark.slow
def test_commands_that_need_the_control_plane_say_so(factory: Factory, repo: Path) -> None:
    factory.sf("product", "add", "app", "--repo", str(repo))
    factory.sf("run", "start", "app", "--goal", "g", "--name", "app-1")

    code, line = _refused(factory, "run", "start", "app", "--goal", "g", "--wait")
    assert code == EXIT_NO_CONTROL_PLANE and "sf up" in line
    done = factory.sf("run", "logs", "app-1", "-f", check=False)
    assert done.returncode == EXIT_NO_CONTROL_PLANE and "sf up" in done.stderr


@pytest.mark.slow
def test_remove_refuses_active_runs_unless_forced_and_keeps_the_repo(
    factory: Factory, tmp_path: Path
) -> None:
    steps = {"work": marks_step(tmp_path / "marks", "work", 30)}
    repo = factory.repo("busy", {"pipeline": steps})
    factory.sf("product", "add", "busy", "--repo", str(repo))
    factory.up()
    factory.sf("run", "start", "busy", "--goal", "g", "--name", "busy-1")
    factory.wait_run("busy-1", _stage_running("work"), timeout=30)

    code, line = _refused(factory, "product", "remove", "busy")
    assert code == EXIT_CONFLICT and "busy-1" in line and "--force" in line

    factory.sf("product", "remove", "busy", "--force")
    wait_for(
        lambda: factory.store.list(Product) == [] and factory.store.list(Run) == [], timeout=30
    )
    assert (repo / "pipeline.dot").is_file() and (repo / ".git").is_dir()
    assert run_processes(factory.run_dir("busy-1").logs_root(0)) == []


@pytest.mark.slow
def test_status_list_and_logs_show_a_finished_run(factory: Factory, repo: Path) -> None:
    factory.sf("product", "add", "app", "--repo", str(repo))
    factory.up()
    started = factory.sf("run", "start", "app", "--goal", "g", "--name", "app-1", "--wait")
    assert "run app-1: Succeeded" in started.stderr

    status = factory.sf("run", "status", "app-1").stdout
    listed = factory.sf("run", "list").stdout
    as_yaml = yaml.safe_load(factory.sf("run", "status", "app-1", "-o", "yaml").stdout)
    logs = factory.sf("run", "logs", "app-1", "-o", "json").stdout.splitlines()
    products = json.loads(factory.sf("product", "list", "-o", "json").stdout)

    assert "Phase:    Succeeded" in status and "build" in status and "Stages:" in status
    assert listed.splitlines()[1].split()[:3] == ["app-1", "app", "Succeeded"]
    everywhere = factory.sf("run", "list", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert everywhere[1].split()[:3] == ["default", "app-1", "app"]
    assert factory.sf("run", "list", "-n", "elsewhere").stdout.startswith("No runs.")
    assert as_yaml["status"]["phase"] == "Succeeded"
    assert [json.loads(line)["sequence"] for line in logs] == list(range(1, len(logs) + 1))
    assert products[0]["status"]["phase"] == "Ready"
    assert factory.wait_run("app-1", _phase(RunPhase.SUCCEEDED)).status.observed_generation == 1


@pytest.mark.slow
def test_delete_stops_a_running_run_then_removes_it(factory: Factory, tmp_path: Path) -> None:
    steps = {"work": marks_step(tmp_path / "marks", "work", 30)}
    factory.sf("product", "add", "busy", "--repo", str(factory.repo("busy", {"pipeline": steps})))
    factory.up()
    factory.sf("run", "start", "busy", "--goal", "g", "--name", "busy-1")
    factory.wait_run("busy-1", _stage_running("work"), timeout=30)

    done = factory.sf("run", "delete", "busy-1")

    assert done.stdout.strip() == "run.factoryos.dev/busy-1 deleting"
    wait_for(lambda: factory.store.list(Run) == [], timeout=30, what="the run to go")
    assert run_processes(factory.run_dir("busy-1").logs_root(0)) == []
    assert factory.run_dir("busy-1").events.is_file(), "its files are kept"
