"""``sf product add|list|show|remove``: register, inspect and unregister products.

``add`` builds a Product from flags (``sf apply`` takes the same resource as
YAML) and checks the repository and its pipeline before storing it;
``remove`` refuses while the product has active runs unless ``--force``,
and never touches the product's repository. What these do to products is
``factoryos.products`` (the dashboard uses it too); this module parses the
flags, calls it and prints the result.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.factory import NamespaceOption, admit_to, on_cluster, open_store
from factoryos.cli.output import OutputFormat, OutputOption, emit, progress, table
from factoryos.cli.views import products_table
from factoryos.models import Product, dump_resource
from factoryos.products import (
    ProductChoices,
    Scaffolded,
    add_from_template,
    add_product,
    get_product,
    list_products,
    plan_from_template,
    product_from_repo,
    remove_product,
)
from factoryos.settings import Settings
from factoryos.stacks import list_stacks

app = typer.Typer(help="Register and inspect products.", no_args_is_help=True)

#: Where a bad product spec from ``add`` is said to come from.
ADD = "sf product add"

RepoOption = Annotated[
    str | None, typer.Option("--repo", help="A local git repository path, or a git URL to clone.")
]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="Scaffold a new repository from a stack (stack-ts, stack-py; "
        "`sf product templates` lists them) instead of registering --repo.",
    ),
]
PathOption = Annotated[
    Path | None,
    typer.Option(
        "--path", help="With --template: where the new repository goes (default: ./NAME)."
    ),
]
HoldoutsOption = Annotated[
    Path | None,
    typer.Option(
        "--holdouts",
        help="With --template: the holdout folder, outside the repository "
        "(default: $FACTORYOS_HOME/holdouts/NAMESPACE/NAME).",
    ),
]
BranchOption = Annotated[str, typer.Option(help="The branch winners merge into.")]
PipelineOption = Annotated[
    str | None,
    typer.Option(help="Pipeline path inside the repo (default: pipeline.dot, or the stack's)."),
]
CandidatesOption = Annotated[int, typer.Option(help="K candidates per run.")]
ConcurrencyOption = Annotated[int, typer.Option(help="Runs of this product at once.")]
AgentProfileOption = Annotated[
    str, typer.Option("--agent-profile", help="real, or test_shim (with --agent-executable).")
]
AgentExecutableOption = Annotated[
    Path | None, typer.Option("--agent-executable", help="Stand-in agent CLI for test_shim.")
]

ProviderOption = Annotated[
    str | None,
    typer.Option("--provider", help="The agent's provider: openai (codex), anthropic (claude), "
                 "google (gemini). Default openai."),
]  # fmt: skip
ModelOption = Annotated[
    str | None, typer.Option("--model", help="The agent's model (the pinned catalog's, or any "
                             "name with --base-url).")
]  # fmt: skip
BackendOption = Annotated[
    str | None, typer.Option("--backend", help="cli (the provider's coding-agent CLI, default) "
                             "or api (Kilroy's own agent loop).")
]  # fmt: skip
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="An OpenAI- or Anthropic-compatible gateway "
                             "(vLLM, LiteLLM, a company proxy).")
]  # fmt: skip
CredentialEnvOption = Annotated[
    str | None, typer.Option("--credential-env", help="The variable holding the key where the "
                             "factory runs (default: the provider's, e.g. OPENAI_API_KEY).")
]  # fmt: skip
CredentialSecretOption = Annotated[
    str | None, typer.Option("--credential-secret", help="On a cluster: SECRET or SECRET/KEY "
                             "in the product's namespace holding the key.")
]  # fmt: skip


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Product name (an RFC 1123 label).")],
    repo: RepoOption = None,
    template: TemplateOption = None,
    path: PathOption = None,
    holdouts: HoldoutsOption = None,
    branch: BranchOption = "main",
    pipeline: PipelineOption = None,
    candidates: CandidatesOption = 1,
    concurrency: ConcurrencyOption = 1,
    agent_profile: AgentProfileOption = "real",
    agent_executable: AgentExecutableOption = None,
    provider: ProviderOption = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    base_url: BaseUrlOption = None,
    credential_env: CredentialEnvOption = None,
    credential_secret: CredentialSecretOption = None,
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
    _check_usage(ctx, repo, template, path, holdouts)
    choices = ProductChoices(
        branch=branch, pipeline=pipeline, candidates=candidates, concurrency=concurrency,
        agent_profile=agent_profile, agent_executable=agent_executable,
        provider=provider, model=model, backend=backend, base_url=base_url,
        credential_env=credential_env,
        credential_secret=credential_secret.partition("/")[0] if credential_secret else None,
        credential_key=credential_secret.partition("/")[2] or None if credential_secret else None,
    )  # fmt: skip
    store, cluster = open_store(settings), on_cluster(settings)

    def admit(product: Product) -> None:
        admit_to(settings, product, store)

    if repo is not None:
        product = product_from_repo(
            name, repo, choices, namespace=namespace, on_cluster=cluster, source=ADD
        )
        created = add_product(store, product, admit)
        emit(dump_resource(created), output, lambda _: _added_line(name))
        return
    assert template is not None
    plan = plan_from_template(
        name, template, choices, home=settings.home, namespace=namespace,
        path=path, holdouts=holdouts, on_cluster=cluster, source=ADD,
    )  # fmt: skip
    added = add_from_template(store, plan, admit)
    emit(dump_resource(added.product), output, lambda _: _scaffolded_text(name, added))


def _check_usage(
    ctx: typer.Context, repo: str | None, template: str | None, *template_only: Path | None
) -> None:
    # ctx.fail raises Typer's usage error: usage text on stderr and exit 2.
    if (repo is None) == (template is None):
        ctx.fail("give exactly one of --repo (an existing repository) or --template")
    if template is None and any(option is not None for option in template_only):
        ctx.fail("--path and --holdouts go with --template")


def _added_line(name: str) -> str:
    return f"product.factoryos.dev/{name} created"


def _scaffolded_text(name: str, added: Scaffolded) -> str:
    made, steps = added.scaffold, added.next_steps
    return "\n".join(
        [
            f"scaffolded {made.stack} into {made.repo} "
            f"({len(made.files)} files, commit {made.commit[:12]} on main)",
            f"holdout scenarios in {made.holdouts} (outside the repository)",
            _added_line(name),
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
    # Imported here: the deploy runner brings the eval harness, which ``list`` must not load.
    from factoryos.deploys import deploy_command, deploy_product

    settings = Settings.from_env()
    product = get_product(open_store(settings), name, namespace)
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
    from factoryos.deploys import PLAN

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


@app.command("list")
def list_(namespace: NamespaceOption = "default", output: OutputOption = OutputFormat.TEXT) -> None:
    """List products with their status."""
    products = list_products(open_store(Settings.from_env()), namespace)
    data = [dump_resource(p) for p in products]
    emit(data, output, lambda _: products_table(data))


@app.command()
def show(
    name: str, namespace: NamespaceOption = "default", output: OutputOption = OutputFormat.YAML
) -> None:
    """Print a product (YAML by default)."""
    product = get_product(open_store(Settings.from_env()), name, namespace)
    emit(dump_resource(product), output, lambda data: products_table([data]))


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
    removal = remove_product(open_store(Settings.from_env()), name, namespace, force=force)
    state = "deleting" if removal.deferred else "deleted"
    emit(
        {"kind": "Product", "name": name, "result": state, "runs": removal.runs},
        output,
        lambda _: (
            f"product.factoryos.dev/{name} {state}"
            + (" (the control plane removes its runs first)" if removal.deferred else "")
        ),
    )
