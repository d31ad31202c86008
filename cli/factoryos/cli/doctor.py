"""``sf doctor [PRODUCT]``: what this machine and each product's agent need, checked.

The machine: Kilroy (found and answering), git, and each pinned agent CLI. Each
product (or the one named): the same preflight the local control plane runs before
a Run of it starts (``factoryos.kilroy.agent_clis.preflight``: the CLI of each
provider at its pinned version, the key in this environment). On a cluster
(``--context``) a product's key is a Secret the pod reads, so that check says where
it must be instead. The machine's inotify instance limit is reported too (each
local runner holds one; past it runners poll), never failed. Exit status 0 when
everything passed, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
from typing import Annotated, Any

import typer

from factoryos.cli.factory import open_store
from factoryos.cli.output import OutputFormat, OutputOption, emit, table
from factoryos.errors import FactoryError, NotFoundError
from factoryos.filewatch import INSTANCE_LIMIT_SYSCTL, instance_limit, instances_in_use
from factoryos.kilroy import find_kilroy
from factoryos.kilroy.agent_clis import AGENT_CLIS, Finding, installed_version, preflight
from factoryos.kilroy.environment import agent_search_path
from factoryos.models import Product
from factoryos.models.agents import merged
from factoryos.settings import Settings


def doctor(
    product: Annotated[str | None, typer.Argument(help="Check only this product.")] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="The products' namespace (default: all)."),
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Check the machine (Kilroy, git, the agent CLIs) and each product's agent and key."""
    settings = Settings.from_env()
    env = dict(os.environ)
    env["PATH"] = agent_search_path(settings.tools_dir, env.get("PATH", ""))
    rows = [("machine", f) for f in machine_findings(settings, env)]
    for item in _products(settings, product, namespace):
        for finding in product_findings(item, env, on_cluster=settings.kube_context is not None):
            rows.append((item.metadata.name, finding))
    data = [
        {"scope": scope, "check": f.check, "ok": f.ok, "reason": f.reason, "message": f.message}
        for scope, f in rows
    ]
    emit(data, output, _text)
    if not all(f.ok for _, f in rows):
        raise typer.Exit(1)


def machine_findings(settings: Settings, env: dict[str, str]) -> list[Finding]:
    """Kilroy, git, and every pinned agent CLI (a missing CLI only matters to products
    that choose its provider, so it is reported, not failed)."""
    found: list[Finding] = []
    try:
        kilroy = find_kilroy(settings, env)
        found.append(Finding("kilroy", None, f"{kilroy.path} {kilroy.version}"))
    except FactoryError as exc:
        found.append(Finding("kilroy", "ToolMissing", str(exc)))
    git = shutil.which("git", path=env.get("PATH"))
    found.append(Finding("git", None if git else "ToolMissing", git or "git is not installed"))
    for cli in AGENT_CLIS.values():
        path = shutil.which(cli.command, path=env.get("PATH"))
        version = installed_version(path) if path else None
        state = f"{path} {version}" if path else "not installed (make tools; Node.js >= 20)"
        if path and version != cli.version:
            state += f" (pinned: {cli.version})"
        found.append(Finding(f"{cli.command} CLI", None, f"{cli.package}: {state}"))
    found.append(notification_finding(instance_limit(), instances_in_use()))
    return found


def notification_finding(limit: int | None, in_use: int) -> Finding:
    """How many more local runs can follow Kilroy by inotify before runners fall back to
    polling (reported, not failed: polling works, a line just waits up to 50 ms)."""
    if limit is None:
        return Finding("file notifications", None, "no inotify here: runners poll")
    free = max(limit - in_use, 0)
    message = (
        f"{INSTANCE_LIMIT_SYSCTL} = {limit}, {in_use} in use: about {max(free - 1, 0)} more "
        "runs at once get notifications (one per runner, one for the dashboard), the rest poll"
    )
    if free < 256:
        message += f"; for more, `sysctl -w {INSTANCE_LIMIT_SYSCTL}=1024`"
    return Finding("file notifications", None, message)


def product_findings(product: Product, env: dict[str, str], *, on_cluster: bool) -> list[Finding]:
    """The preflight of the product's agent (nothing to check when it chose none)."""
    engine = product.spec.engine
    if engine.agent_profile.value != "real":
        return [Finding("agent", None, f"agentProfile {engine.agent_profile.value}: no real agent")]
    choice = merged(engine, None)
    if not choice.configured:
        return [Finding("agent", None, "no agent chosen (spec.engine.provider): tool nodes only")]
    credential = engine.credential
    findings = preflight(choice, env, credential.env if credential else None)
    if on_cluster:
        findings = [f for f in findings if not f.check.endswith(" key")]
        secret = credential.secret_name if credential else None
        if secret:
            findings.append(Finding("key", None, f"from Secret {secret!r}, read by the runner pod"))
        else:
            missing = "engine.credential names no Secret (secretName, secretKey)"
            findings.append(Finding("key", "CredentialMissing", missing))
    return findings


def _products(settings: Settings, name: str | None, namespace: str | None) -> list[Product]:
    store = open_store(settings)
    products = store.list(Product, namespace)
    if name is None:
        return products
    chosen = [p for p in products if p.metadata.name == name]
    if not chosen:
        raise NotFoundError(f"product {name!r} not found")
    return chosen


def _text(data: list[dict[str, Any]]) -> str:
    rows = [
        [row["scope"], row["check"], "ok" if row["ok"] else str(row["reason"]), row["message"]]
        for row in data
    ]
    return table(["SCOPE", "CHECK", "RESULT", "DETAIL"], rows)
