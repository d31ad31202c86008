"""``sf product add|list|show|remove``: register, inspect and unregister products.

``add`` builds a Product from flags (``sf apply`` takes the same resource as
YAML) and checks the repository and its pipeline before storing it;
``remove`` refuses while the product has active runs unless ``--force``,
and never touches the product's repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.factory import NamespaceOption, admit_to, on_cluster, open_store
from factoryos.cli.output import OutputFormat, OutputOption, age, emit, table
from factoryos.errors import ConflictError
from factoryos.models import DesiredState, Product, Run, dump_resource, parse_as
from factoryos.reconcile.product import active_runs
from factoryos.settings import Settings
from factoryos.store import modify

app = typer.Typer(help="Register and inspect products.", no_args_is_help=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Product name (an RFC 1123 label).")],
    repo: Annotated[
        str, typer.Option("--repo", help="A local git repository path, or a git URL to clone.")
    ],
    branch: Annotated[str, typer.Option(help="The branch winners merge into.")] = "main",
    pipeline: Annotated[str, typer.Option(help="Pipeline path inside the repo.")] = "pipeline.dot",
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
    """Register a product: a git repository with a pipeline (checked before it is stored)."""
    settings = Settings.from_env()
    remote = "://" in repo or repo.startswith("git@")
    # On a cluster a path names a directory the runner pods see; never resolve it here.
    path = repo if on_cluster(settings) else _abs(repo)
    source: dict[str, str] = {"url": repo} if remote else {"path": path}
    engine: dict[str, Any] = {"agentProfile": agent_profile}
    if agent_executable is not None:
        engine["agentExecutable"] = _abs(str(agent_executable))
    product = parse_as(
        Product,
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "repo": source,
                "branch": branch,
                "pipeline": pipeline,
                "candidates": candidates,
                "concurrency": concurrency,
                "engine": engine,
            },
        },
        source="sf product add",
    )
    store = open_store(settings)
    admit_to(settings, product, store)
    created = store.create(product)
    emit(dump_resource(created), output, lambda _: f"product.factoryos.dev/{name} created")


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
