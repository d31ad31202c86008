"""``sf selftest``: check the factory's invariants against a real factory.

Locally (the default) it runs in a scratch ``FACTORYOS_HOME`` (removed
afterwards unless ``--keep``), so it never touches your products or runs.
With ``--context`` (or ``sf --context``) it checks the cluster's operator in
a namespace of its own, with the example products the runner image carries,
reading events through the dashboard (FACTORYOS_DASHBOARD_URL/TOKEN). The
checks are in ``factoryos.selftest``; this prints a pass/fail table and exits
1 when any check failed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.factory import DASHBOARD_HINT, open_store
from factoryos.cli.output import OutputFormat, OutputOption, emit, progress, table
from factoryos.errors import InvalidInputError
from factoryos.selftest import CHECKS, CheckResult, ScratchFactory, SelftestTarget, run_checks
from factoryos.settings import Settings


def selftest(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Run only these checks ({', '.join(n for n, _ in CHECKS)})."),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="Keep the scratch factory's home (or the cluster namespace) to look at."
        ),
    ] = False,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Check this kubeconfig context's cluster (the operator, the runner image and "
            "the dashboard) instead of a scratch local factory.",
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            help="With --context: an existing namespace to use (default: a new one named "
            "factoryos-selftest- plus six random hex digits, deleted afterwards).",
        ),
    ] = None,
    examples: Annotated[
        str,
        typer.Option(
            "--examples", help="With --context: where the runner image keeps the examples."
        ),
    ] = "/opt/examples",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run the factory's self-checks: stop, resume, event stream, smoke product end to end."""
    if context:
        os.environ["FACTORYOS_CONTEXT"] = context
    settings = Settings.from_env()
    names = {n for n, _ in CHECKS}
    unknown = sorted(set(only or []) - names)
    if unknown:
        raise InvalidInputError(f"no check named {', '.join(unknown)} (checks: {sorted(names)})")

    def heard(result: CheckResult) -> None:
        mark = "pass" if result.passed else "FAIL"
        progress(f"  {result.name}: {mark} ({result.seconds:.1f}s) {result.detail}")

    if settings.kube_context is not None:
        target = _cluster_target(settings, namespace, keep, examples)
        progress(f"sf selftest: cluster {settings.kube_context}, namespace {target.namespace}")
        results = run_checks(target, only=only, on_result=heard)
    else:
        if namespace is not None:
            raise InvalidInputError("--namespace goes with --context")
        home = Path(tempfile.mkdtemp(prefix="factoryos-selftest-"))
        progress(f"sf selftest: a scratch factory in {home}")
        try:
            results = run_checks(ScratchFactory(home, dict(os.environ)), only=only, on_result=heard)
        finally:
            if keep:
                progress(f"sf selftest: kept {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)
    data = {"passed": all(r.passed for r in results), "checks": [r.to_json() for r in results]}
    emit(data, output, _text)
    raise typer.Exit(0 if data["passed"] else 1)


def _cluster_target(
    settings: Settings, namespace: str | None, keep: bool, examples: str
) -> SelftestTarget:
    if not settings.dashboard_url or not settings.dashboard_token:
        raise InvalidInputError(
            f"sf selftest --context reads the runs' events through the dashboard: {DASHBOARD_HINT}"
        )
    from factoryos.events.dashboard import DashboardEvents
    from factoryos.selftest.cluster import ClusterFactory
    from factoryos.store.apiserver import KubeStore

    store = open_store(settings)
    assert isinstance(store, KubeStore)
    return ClusterFactory(
        store,
        store.api,
        DashboardEvents(settings.dashboard_url, settings.dashboard_token),
        namespace or f"factoryos-selftest-{secrets.token_hex(3)}",
        create_namespace=namespace is None,
        keep=keep,
        examples=examples,
    )


def _text(data: dict[str, Any]) -> str:
    rows = [
        [c["name"], "PASS" if c["passed"] else "FAIL", f"{c['seconds']:.1f}s", c["detail"]]
        for c in data["checks"]
    ]
    verdict = "all checks passed" if data["passed"] else "SOME CHECKS FAILED"
    return table(["check", "result", "took", "detail"], rows) + f"\n{verdict}"
