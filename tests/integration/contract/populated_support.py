"""One embedded factory with data in it (``conftest.populated``), for the contract tests.

``populated`` starts ``sf up`` with its dashboard in a home of its own and fills
it as a user would: the quality product (examples/products/quality, K=2) whose
Product passes three canary secrets (``CANARIES``: one through
``engine.passEnv``, one as the agent's ``engine.credential``, one as a deploy
credential), a finished run of it (screened, evaluated on the holdouts, gated,
merged), a real deploy that needs the deploy credential, and a second product
whose run is still running (a stage that sleeps). The API contract test
(schemathesis) and the canary test read it; building it once costs one run.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from factory_support import Factory, quality_product, wait_for
from kilroy_support import git

from factoryos.models import RunPhase, StageState

#: The canaries' variables; each value is random per session and secret.
CANARY_VARS = ("FOS_CANARY_PASS_ENV", "FOS_CANARY_AGENT_KEY", "FOS_CANARY_DEPLOY_KEY")
FINISHED = "q-done"
RUNNING = "slow-1"


def digest_of(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


#: In the product's repository: exits 0 only when the variable holds the value whose
#: SHA-256 is given, without ever printing the value.
CHECK_CANARY = """import hashlib, os, sys
var, digest = sys.argv[1], sys.argv[2]
sys.exit(hashlib.sha256(os.environ.get(var, "").encode()).hexdigest() != digest)
"""


def _proves(var: str, value: str) -> str:
    return f"python3 check_canary.py {var} {digest_of(value)}"


@dataclass
class Populated:
    """The factory, its canaries and what every ``sf`` command printed."""

    factory: Factory
    canaries: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def sf(self, *args: str, stdin: str | None = None) -> str:
        done = self.factory.sf(*args, stdin=stdin)
        self.printed += [done.stdout, done.stderr]
        return done.stdout


def fill(world: Populated) -> None:
    factory, canaries = world.factory, world.canaries
    pass_var, agent_var, deploy_var = CANARY_VARS
    repo, holdouts = quality_product(factory, {0: "partial", 1: "correct"})
    # A first stage proves the passEnv canary reaches the pipeline's tools.
    (repo / "check_canary.py").write_text(CHECK_CANARY)
    dot = (repo / "pipeline.dot").read_text()
    (repo / "pipeline.dot").write_text(
        dot.replace(
            "start -> implement",
            f'env [shape=parallelogram, tool_command="{_proves(pass_var, canaries[pass_var])}"]\n'
            "  start -> env -> implement",
        )
    )
    git(repo, "add", "-A")
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "canary"], check=True, env=factory.env)
    product = _resource(
        "Product",
        "quality",
        {
            "repo": {"path": str(repo)},
            "candidates": 2,
            "verifiers": {
                "typecheck": [{"name": "compile", "command": "python3 -m py_compile greet.py"}],
                "unit": [{"name": "check", "command": "python3 check.py"}],
            },
            "holdouts": {"path": str(holdouts)},
            "acceptance": {"target": 0.9, "alpha": 0.05},
            "engine": {"passEnv": [pass_var], "credential": {"env": agent_var}},
            "deploy": {
                "dryRun": False,
                "command": _proves(deploy_var, canaries[deploy_var]),
                "credentials": [deploy_var],
            },
        },
    )
    slow = factory.repo("slow", {"pipeline": {"wait": "sleep 600"}})
    documents = [
        product,
        _resource("Product", "slow", {"repo": {"path": str(slow)}}),
        _resource(
            "Run",
            FINISHED,
            {
                "productRef": {"name": "quality"},
                "goal": "Greet people by name",
                "maxIterations": 1,
                "selection": {"trialsPerRound": 4},
            },
        ),
        _resource("Run", RUNNING, {"productRef": {"name": "slow"}, "goal": "wait"}),
    ]
    world.sf("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in documents))
    factory.up(dashboard=True)
    factory.wait_run(FINISHED, lambda r: r.status.phase is RunPhase.SUCCEEDED, timeout=120)
    factory.wait_run(
        RUNNING,
        lambda r: any(s.name == "wait" and s.status is StageState.RUNNING for s in r.status.stages),
    )
    world.sf("product", "deploy", "quality", "--deploy")
    wait_for(lambda: bool(factory.token), what="the dashboard token")


def _resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "factoryos.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
