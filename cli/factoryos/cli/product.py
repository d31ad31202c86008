"""``sf product add|list|show|remove``: register, inspect and unregister products.

``add`` builds a Product from flags (``sf apply`` takes the same resource as
YAML) and checks the repository and its pipeline before storing it;
``remove`` refuses while the product has active runs unless ``--force``,
and never touches the product's repository.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import click
import typer

from factoryos.cli.factory import NamespaceOption, admit_to, on_cluster, open_store
from factoryos.cli.output import OutputFormat, OutputOption, age, emit, progress, table
from factoryos.deploys import PLAN, deploy_command, deploy_product
from factoryos.errors import ConflictError, InvalidInputError, NotFoundError
from factoryos.models import DesiredState, Product, Run, dump_resource, parse_as
from factoryos.reconcile.product import active_runs
from factoryos.settings import Settings
from factoryos.stacks import (
    Manifest,
    Scaffold,
    Stack,
    list_stacks,
    load_stack,
    read_manifest,
    scaffold,
)
from factoryos.store import ResourceStore, modify

app = typer.Typer(help="Register and inspect products.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Product name (an RFC 1123 label).")],
    repo: Annotated[
        str | None,
        typer.Option("--repo", help="A local git repository path, or a git URL to clone."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Scaffold a new repository from a stack (stack-ts, stack-py; "
            "`sf product templates` lists them) instead of registering --repo.",
        ),
    ] = None,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path", help="With --template: where the new repository goes (default: ./NAME)."
        ),
    ] = None,
    holdouts: Annotated[
        Path | None,
        typer.Option(
            "--holdouts",
            help="With --template: the holdout folder, outside the repository "
            "(default: $FACTORYOS_HOME/holdouts/NAMESPACE/NAME).",
        ),
    ] = None,
    branch: Annotated[str, typer.Option(help="The branch winners merge into.")] = "main",
    pipeline: Annotated[
        str | None,
        typer.Option(help="Pipeline path inside the repo (default: pipeline.dot, or the stack's)."),
    ] = None,
    candidates: Annotated[int, typer.Option(help="K candidates per run.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Runs of this product at once.")] = 1,
    agent_profile: Annotated[
        str, typer.Option("--agent-profile", help="real, or test_shim (with --agent-executable).")
    ] = "real",
    agent_executable: Annotated[
        Path | None, typer.Option("--agent-executable", help="Stand-in agent CLI for test_shim.")
    ] = None,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Register a product: an existing repository (--repo), or a new one from a stack (--template).

    The repository and its pipeline are checked before the product is stored.
    With --template the stack is rendered into --path, committed on main, and
    its example holdout scenarios are written to --holdouts; the product is
    registered with the stack's pipeline, verifiers, service and gate.
    """
    settings = Settings.from_env()
    if (repo is None) == (template is None):
        raise click.UsageError(
            "give exactly one of --repo (an existing repository) or --template",
            cast(click.Context, ctx),
        )
    if template is None and (path is not None or holdouts is not None):
        raise click.UsageError("--path and --holdouts go with --template", cast(click.Context, ctx))
    engine: dict[str, Any] = {"agentProfile": agent_profile}
    if agent_executable is not None:
        engine["agentExecutable"] = _abs(str(agent_executable))
    spec: dict[str, Any] = {
        "branch": branch,
        "candidates": candidates,
        "concurrency": concurrency,
        "engine": engine,
    }
    store = open_store(settings)
    planned: tuple[Stack, Path, Path] | None = None  # what to scaffold, and where
    manifest = Manifest()
    if template is not None:
        if on_cluster(settings):
            raise InvalidInputError(
                "--template scaffolds a local repository; for a cluster, push it and register "
                "it with --repo URL (and its holdouts as a Secret)"
            )
        stack = load_stack(template)
        manifest = read_manifest(stack, name)
        target = (path if path is not None else Path.cwd() / name).resolve()
        held = holdouts if holdouts is not None else settings.home / "holdouts" / namespace / name
        held = held.resolve()
        planned = (stack, target, held)
        spec |= manifest.product
        spec |= {"repo": {"path": str(target)}, "holdouts": {"path": str(held)}}
    else:
        assert repo is not None
        remote = "://" in repo or repo.startswith("git@")
        # On a cluster a path names a directory the runner pods see; never resolve it here.
        local = repo if on_cluster(settings) else _abs(repo)
        spec["repo"] = {"url": repo} if remote else {"path": local}
    if pipeline is not None or "pipeline" not in spec:
        spec["pipeline"] = pipeline or "pipeline.dot"
    product = parse_as(  # the whole resource is checked before anything is written
        Product,
        {"metadata": {"name": name, "namespace": namespace}, "spec": spec},
        source="sf product add",
    )
    made: Scaffold | None = None
    if planned is not None:
        _must_be_new(store, name, namespace)
        stack, target, held = planned
        made = scaffold(stack, name, target, held)
    try:
        admit_to(settings, product, store)
        created = store.create(product)
    except BaseException:
        if made is not None:  # leave nothing behind, so the same command can be run again
            made.discard()
        raise
    emit(dump_resource(created), output, lambda _: _added_text(name, made, manifest))


def _must_be_new(store: ResourceStore, name: str, namespace: str) -> None:
    try:
        store.get(Product, name, namespace)
    except NotFoundError:
        return
    raise ConflictError(f"product {name!r} already exists in namespace {namespace!r}")


def _added_text(name: str, made: Scaffold | None, manifest: Manifest) -> str:
    line = f"product.factoryos.dev/{name} created"
    if made is None:
        return line
    steps = [
        s.format(repo=made.repo, holdouts=made.holdouts, name=name) for s in manifest.next_steps
    ]
    return "\n".join(
        [
            f"scaffolded {made.stack} into {made.repo} "
            f"({len(made.files)} files, commit {made.commit[:12]} on main)",
            f"holdout scenarios in {made.holdouts} (outside the repository)",
            line,
            *(["next steps:"] + [f"  - {s}" for s in steps] if steps else []),
        ]
    )


@app.command()
def deploy(
    name: str,
    real: Annotated[
        bool,
        typer.Option(
            "--deploy",
            help="Deploy for real (needs spec.deploy.dryRun: false and the credentials "
            "named in spec.deploy.credentials in the environment). Default: a dry run.",
        ),
    ] = False,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run the product's deploy script in a fresh checkout of its branch (a dry run by default).

    The dry run builds what a deploy would ship, validates the deploy
    configuration and writes deploy-plan.json, with no network and no
    credentials. The script's output streams to stderr; the exit status is
    the script's.
    """
    settings = Settings.from_env()
    product = open_store(settings).get(Product, name, namespace)
    deploy_command(product, real=real)  # refuse before cloning anything
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    workdir = settings.home / "deploys" / namespace / name / stamp
    progress(f"{'deploying' if real else 'deploy dry run of'} {name} in {workdir / 'checkout'}")
    result = deploy_product(product, workdir, os.environ, real=real, on_line=progress)
    data = {
        "product": name,
        "real": result.real,
        "commit": result.commit,
        "checkout": str(result.checkout),
        "exitCode": result.exit_code,
        "plan": result.plan,
    }
    emit(data, output, _deploy_text)
    if result.exit_code != 0:
        raise typer.Exit(result.exit_code)


def _deploy_text(data: dict[str, Any]) -> str:
    kind = "deploy" if data["real"] else "deploy dry run"
    head = f"{kind} of {data['product']} at {data['commit'][:12]}"
    if data["exitCode"] != 0:
        return f"{head} failed (exit {data['exitCode']}); see the output above"
    plan = data["plan"]
    if plan is None:
        return f"{head} succeeded (no {PLAN} written)"
    checks = ", ".join(str(c) for c in plan.get("checks", [])) or "-"
    return f"{head} succeeded\nplan: {data['checkout']}/{PLAN}\nchecks: {checks}"


@app.command()
def templates(output: OutputOption = OutputFormat.TEXT) -> None:
    """List the stacks `sf product add --template` can scaffold."""
    stacks = list_stacks()
    data = [{"name": s.name, "description": s.description} for s in stacks]
    emit(
        data,
        output,
        lambda _: table(["name", "description"], [[d["name"], d["description"]] for d in data]),
    )


def _abs(path: str) -> str:
    return str(Path(path).expanduser().resolve())


@app.command("list")
def list_(namespace: NamespaceOption = "default", output: OutputOption = OutputFormat.TEXT) -> None:
    """List products with their status."""
    products = open_store(Settings.from_env()).list(Product, namespace)
    emit([dump_resource(p) for p in products], output, lambda _: _products_table(products))


def _products_table(products: list[Product]) -> str:
    if not products:
        return "No products. Add one with `sf product add NAME --repo PATH`."
    rows = [
        [
            p.metadata.name,
            str(p.status.phase or "-"),
            str(len(p.status.active_runs)),
            p.status.last_run or "-",
            p.spec.repo.path or p.spec.repo.url or "-",
            p.spec.branch,
            age(p.metadata.creation_timestamp),
        ]
        for p in products
    ]
    return table(["name", "phase", "active", "last run", "repo", "branch", "age"], rows)


@app.command()
def show(
    name: str, namespace: NamespaceOption = "default", output: OutputOption = OutputFormat.YAML
) -> None:
    """Print a product (YAML by default)."""
    product = open_store(Settings.from_env()).get(Product, name, namespace)
    emit(dump_resource(product), output, lambda _: _products_table([product]))


@app.command()
def remove(
    name: str,
    force: Annotated[
        bool, typer.Option("--force", help="Stop and delete its active runs too.")
    ] = False,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Unregister a product (its runs go with it; its repository is never touched)."""
    store = open_store(Settings.from_env())
    store.get(Product, name, namespace)
    runs = [r for r in store.list(Run, namespace) if r.spec.product_ref.name == name]
    active = active_runs(runs)
    if active and not force:
        names = ", ".join(r.metadata.name for r in active)
        raise ConflictError(
            f"product {name!r} has {len(active)} active run(s) ({names}); "
            "stop them first (`sf run stop NAME`) or use --force"
        )
    for run in active:
        modify(store, Run, run.metadata.name, namespace, _stop)
    remaining = store.delete(Product, name, namespace)
    state = "deleting" if remaining is not None else "deleted"
    emit(
        {"kind": "Product", "name": name, "result": state, "runs": len(runs)},
        output,
        lambda _: (
            f"product.factoryos.dev/{name} {state}"
            + (" (the control plane removes its runs first)" if remaining is not None else "")
        ),
    )


def _stop(run: Run) -> None:
    run.spec.desired_state = DesiredState.STOPPED
