"""What ``sf``'s common commands import: pinned by name, so an eager import fails here.

``sf`` starts fast because each command imports only what it needs
(``factoryos.cli.lazy``). A new top-level import of, say, the eval harness in
a module that ``sf run list`` loads would quietly cost every invocation a
tenth of a second; these tests name what each common command may load
instead of timing it (bench/cli_startup.py and README's performance section
time it). Each command runs in a fresh interpreter, against an empty factory
or one holding a product and a run (``SEEDED``).

When a change adds a package to a command on purpose, add it to the pin and
say why in the commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: The probe runs ``sf ARGV`` in-process, then writes the names in ``sys.modules``.
PROBE = """
import json, sys
from factoryos.cli.app import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    main(argv)
finally:
    with open(out, "w") as fh:
        json.dump(sorted(sys.modules), fh)
"""

#: Seeds ``$FACTORYOS_HOME`` (argv[1]) with product ``p`` and run ``r``.
SEED = """
import sys
from pathlib import Path
from factoryos.models import Product, Run, parse_as
from factoryos.store import LocalStore
store = LocalStore(Path(sys.argv[1]) / "factoryos.db")
store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/x"}}}))
run = {"metadata": {"name": "r"}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
store.create(parse_as(Run, run))
"""

#: What the read-only shortcut (``factoryos.cli.readonly``) loads: no Typer, no pydantic.
SHORTCUT_PACKAGES = {"factoryos.cli", "factoryos.imports", "factoryos.settings"}
SHORTCUT_THIRD_PARTY: set[str] = set()

#: What ``--version`` and ``--help`` load: Typer, and of the factory its version and
#: errors, with the shortcut's settings and lazy imports (standard library only).
STARTUP_PACKAGES = {
    "factoryos.cli",
    "factoryos.errors",
    "factoryos.imports",
    "factoryos.settings",
    "factoryos.version",
}
STARTUP_THIRD_PARTY = {"typer", "annotated_doc", "shellingham"}

#: What reading Products and Runs from the embedded store loads on top.
READ_PACKAGES = STARTUP_PACKAGES | {
    "factoryos.controlplane",  # only its lock: is `sf up` running?
    "factoryos.events",
    "factoryos.imports",
    "factoryos.models",
    "factoryos.runs",
    "factoryos.settings",
    "factoryos.store",
    "factoryos.telemetry",
    "factoryos.workloads",
}
READ_THIRD_PARTY = STARTUP_THIRD_PARTY | {
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "yaml",
    "cython_runtime",  # an interpreter module pydantic_core's loading leaves behind
}

#: ``sf product`` also loads what adding and removing products needs (no Jinja2 until it renders).
PRODUCT_PACKAGES = READ_PACKAGES - {"factoryos.events", "factoryos.workloads"} | {
    "factoryos.git",
    "factoryos.products",
    "factoryos.reconcile",  # only reconcile.product (active runs) and reconcile.conditions
    "factoryos.stacks",
}

#: Never loaded by the commands above: each is slow to import and needed elsewhere.
NEVER = {
    "jinja2",  # stacks rendering (sf product add --template)
    "httpx",  # eval harness, dashboard client
    "kubernetes",  # sf --context
    "kopf",
    "scipy",  # eval statistics
    "fastapi",  # the dashboard (sf up)
    "uvicorn",
    "rich",  # Typer's pretty help: plain help is enough and 0.1 s cheaper
    "opentelemetry",
    "jsonschema",
    "factoryos.admission",
    "factoryos.kilroy",
    "factoryos.runner",
    "factoryos.evals",
    "factoryos.controlplane.loop",
    "factoryos.reconcile.run",
}
#: Never loaded by the shortcut: the Typer application, its pydantic, the models.
SHORTCUT_NEVER = NEVER | {
    "typer",
    "pydantic",
    "pydantic_core",
    "yaml",
    "factoryos.cli.root",
    "factoryos.models",
    "factoryos.store",
}

#: (argv, seeded factory?, the factory's packages, third-party packages, never loaded)
CASES = [
    (["--version"], False, STARTUP_PACKAGES, STARTUP_THIRD_PARTY, NEVER),
    (["--help"], False, STARTUP_PACKAGES, STARTUP_THIRD_PARTY, NEVER),
    (["run", "list"], True, SHORTCUT_PACKAGES, SHORTCUT_THIRD_PARTY, SHORTCUT_NEVER),
    (["run", "list", "-A"], True, SHORTCUT_PACKAGES, SHORTCUT_THIRD_PARTY, SHORTCUT_NEVER),
    (["run", "status", "r"], True, SHORTCUT_PACKAGES, SHORTCUT_THIRD_PARTY, SHORTCUT_NEVER),
    (["product", "list"], True, SHORTCUT_PACKAGES, SHORTCUT_THIRD_PARTY, SHORTCUT_NEVER),
    # Through Typer: a store not created yet, an error, JSON output.
    (["run", "list"], False, READ_PACKAGES, READ_THIRD_PARTY, NEVER),
    (["run", "status", "nothing-here"], True, READ_PACKAGES, READ_THIRD_PARTY, NEVER),
    (["run", "list", "-o", "json"], True, READ_PACKAGES, READ_THIRD_PARTY, NEVER),
    (["product", "list", "-o", "yaml"], True, PRODUCT_PACKAGES, READ_THIRD_PARTY, NEVER),
]


def imported_by(argv: list[str], tmp_path: Path, seeded: bool = False) -> set[str]:
    out = tmp_path / "modules.json"
    env = {"PATH": "/usr/bin:/bin", "FACTORYOS_HOME": str(tmp_path / "home")}
    if seeded:
        subprocess.run(
            [sys.executable, "-c", SEED, env["FACTORYOS_HOME"]],
            env=env, capture_output=True, check=True, timeout=60,
        )  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        env=env, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    modules: list[str] = json.loads(out.read_text())
    return set(modules)


def factory_packages(modules: set[str]) -> set[str]:
    """``factoryos.models.run`` -> ``factoryos.models``: the factory's packages that loaded."""
    return {".".join(m.split(".")[:2]) for m in modules if m.startswith("factoryos.")}


def third_party(modules: set[str]) -> set[str]:
    tops = {m.split(".")[0] for m in modules}
    return {t for t in tops - set(sys.stdlib_module_names) if not t.startswith("_")} - {"factoryos"}


@pytest.mark.parametrize(
    ("argv", "seeded", "packages", "libraries", "never"),
    CASES,
    ids=[" ".join(c[0]) + (" (seeded)" if c[1] else "") for c in CASES],
)
def test_a_common_command_imports_only_its_pinned_modules(
    argv: list[str],
    seeded: bool,
    packages: set[str],
    libraries: set[str],
    never: set[str],
    tmp_path: Path,
) -> None:
    modules = imported_by(argv, tmp_path, seeded)
    assert factory_packages(modules) == packages
    assert third_party(modules) <= libraries, third_party(modules) - libraries
    loaded_never = {
        name for name in never if name in modules or any(m.startswith(name + ".") for m in modules)
    }
    assert not loaded_never


def test_the_probe_sees_an_eager_import(tmp_path: Path) -> None:
    """The pin can fail: a command that does load the eval harness is caught."""
    modules = imported_by(["eval", "bound", "--help"], tmp_path)
    assert "factoryos.evals" in factory_packages(modules)


#: What ``sf pipeline run`` must not load before Kilroy starts: Typer and pydantic (its
#: shortcut, ``factoryos.cli.pipelinerun``, parses the command line itself), the resource
#: models and the workload contract's evaluation, the build workload, the ingest, YAML;
#: the event envelope and asyncio; and what the runner loads once Kilroy runs, beside
#: Kilroy's own start: the follower, its inotify, the translation of Kilroy's events, and
#: what only ``status`` and ``stop`` need; the read-only shortcut and its SQLite, and
#: ``importlib.resources`` (with ``tempfile``, ``zipfile``, ``shutil``: the model catalog is
#: read beside its module); ``dataclasses`` (with ``inspect``, ``ast``, ``dis``: 9 ms, and
#: each frozen dataclass 1 ms more: the records made on the way are ``NamedTuple``s);
#: ``ctypes``, for the parent-death signal Kilroy no longer needs (its standby sweeper
#: ends it instead); the reading of Kilroy's logs and outcome, once it runs.
PIPELINE_RUN_NEVER = {
    "dataclasses",
    "inspect",
    "ctypes",
    "factoryos.parent_death",
    "factoryos.kilroy.outcome",
    "factoryos.kilroy.logsroot",
    "factoryos.cli.readonly",
    "sqlite3",
    "importlib.resources",
    "tempfile",
    "zipfile",
    "shutil",
    "typer",
    "pydantic",
    "pydantic_core",
    "factoryos.cli.root",
    "factoryos.cli.pipeline",
    "factoryos.models",
    "factoryos.events.envelope",
    "factoryos.workloads.evaluation",
    "factoryos.workloads.spec",
    "factoryos.runner.build",
    "factoryos.kilroy.ingest",
    "factoryos.kilroy.agents",
    "factoryos.kilroy.sandbox",
    "yaml",
    "asyncio",
    "asyncinotify",
    "factoryos.filewatch",
    "factoryos.kilroy.follow",
    "factoryos.kilroy.translate",
    "factoryos.kilroy.agent_errors",
    "factoryos.kilroy.status",
    "factoryos.kilroy.stopping",
}

#: Runs ``sf pipeline run`` up to Kilroy's start, then writes the names in ``sys.modules``
#: there ("started"), when the validation started ("validating") and when git's look at
#: the workspace started ("looking"). Kilroy's validation is a stand-in (no binary in unit
#: tests); the runner waits for its result just before it writes or starts anything, and
#: that is where the probe ends.
PIPELINE_RUN_PROBE = """
import json, sys
from pathlib import Path
from factoryos.cli.app import main
from factoryos.kilroy import binary, quick, workspace

out, argv = sys.argv[1], sys.argv[2:]
looking = []
class Validating:
    def __init__(self, files):
        self.files = list(files)
        self.loaded = sorted(sys.modules)
    def result(self):
        loaded = {"started": sorted(sys.modules), "validating": self.loaded, "looking": looking}
        json.dump(loaded, open(out, "w"))
        raise SystemExit(0)
binary.find_kilroy = lambda settings, env: binary.KilroyBinary(Path("/kilroy"), "v0.1.0")
quick.start_validation = lambda path, files, settings, env, cache=None: Validating(files)
look = workspace.start_workspace
workspace.start_workspace = lambda path: looking.extend(sorted(sys.modules)) or look(path)
main(argv)
"""


def pipeline_run_loads(tmp_path: Path, *options: str) -> dict[str, set[str]]:
    """What ``sf pipeline run`` has loaded when its validation starts, and before Kilroy."""
    out = tmp_path / "modules.json"
    env = {"PATH": "/usr/bin:/bin", "FACTORYOS_HOME": str(tmp_path / "home")}
    argv = ["pipeline", "run", str(tmp_path / "g.dot"), "-w", str(tmp_path / "ws"), *options]
    subprocess.run(
        [sys.executable, "-c", PIPELINE_RUN_PROBE, str(out), *argv],
        env=env, check=True, timeout=60,
    )  # fmt: skip
    loaded: dict[str, list[str]] = json.loads(out.read_text())
    return {when: set(modules) for when, modules in loaded.items()}


def test_sf_pipeline_run_starts_kilroy_without_typer_pydantic_or_the_models(
    tmp_path: Path,
) -> None:
    modules = pipeline_run_loads(tmp_path)["started"]
    assert "factoryos.runner.pipeline" in modules  # the probe did run the command
    loaded = {
        n for n in PIPELINE_RUN_NEVER if any(m == n or m.startswith(n + ".") for m in modules)
    }
    assert not loaded


def test_kilroy_validates_while_sf_pipeline_run_loads_the_adapter_and_the_runner(
    tmp_path: Path,
) -> None:
    loaded = pipeline_run_loads(tmp_path)
    assert "factoryos.kilroy.binary" in loaded["validating"]
    later = {"factoryos.kilroy.adapter", "factoryos.kilroy.process", "factoryos.runner.pipeline"}
    assert not later & loaded["validating"]
    assert later <= loaded["started"]


def test_git_looks_at_the_workspace_while_sf_pipeline_run_loads_the_adapter_and_the_runner(
    tmp_path: Path,
) -> None:
    loaded = pipeline_run_loads(tmp_path)
    assert "factoryos.kilroy.quick" in loaded["looking"]  # beside the validation
    later = {"factoryos.kilroy.adapter", "factoryos.kilroy.process", "factoryos.runner.pipeline"}
    assert not later & loaded["looking"]


def test_the_pipeline_run_probe_sees_typer_when_the_command_goes_through_it(
    tmp_path: Path,
) -> None:
    """The pin can fail: ``-o=json``, a spelling the shortcut leaves to Typer, loads it."""
    modules = pipeline_run_loads(tmp_path, "--output=json")["started"]
    assert {"typer", "pydantic", "factoryos.runner.pipeline"} <= modules


#: Appends a run's events as ``sf pipeline run``'s runner does, then writes ``sys.modules``.
RECORDING_PROBE = """
import json, sys
from pathlib import Path
from factoryos.events import EventLog, EventType, run_source
log = EventLog(Path(sys.argv[2]), run_source("adhoc", "r1"), sync_in_background=True)
log.append_record(EventType.RUN_STARTED, {"run_id": "r1", "pid": 1})
log.append_record(EventType.STAGE_COMPLETED, {"status": "success", "seconds": 0.25}, subject="a")
log.close()
json.dump(sorted(sys.modules), open(sys.argv[1], "w"))
"""


def test_recording_a_runs_events_does_not_load_pydantic(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", RECORDING_PROBE, str(out), str(tmp_path / "events.ndjson")],
        check=True, timeout=60,
    )  # fmt: skip
    modules = set(json.loads(out.read_text()))
    assert "factoryos.events.log" in modules
    assert not {m for m in modules if m.split(".")[0] in {"pydantic", "pydantic_core"}}
    assert "factoryos.events.envelope" not in modules
