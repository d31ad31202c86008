"""What people do to products: add, list, show, remove. Shared by ``sf`` and the dashboard.

Adding a product is two steps, so that every check runs before anything is
written: ``product_from_repo`` or ``plan_from_template`` builds the Product
(the whole resource is checked, as ``kubectl apply`` would), then
``add_product`` admits and stores it, or ``add_from_template`` first
scaffolds the stack's repository and holdouts and removes them again if the
product cannot be stored, so the same command can be run again.
``remove_product`` refuses while the product has active runs unless forced,
and never touches the product's repository. The store and the admission
checks are passed in; every refusal is a ``FactoryError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factoryos.errors import ConflictError, InvalidInputError, NotFoundError
from factoryos.models import Product, Run, parse_as
from factoryos.reconcile.product import active_runs
from factoryos.runs import stop_run
from factoryos.stacks import Manifest, Scaffold, Stack, load_stack, read_manifest, scaffold
from factoryos.store import ResourceStore

#: Admission for a new Product (``factoryos.admission.admit`` bound to its checks).
AdmitProduct = Callable[[Product], None]

#: The pipeline a product runs when neither the user nor its stack names one.
DEFAULT_PIPELINE = "pipeline.dot"


@dataclass(frozen=True)
class ProductChoices:
    """What a user may choose for any new product (``sf product add``'s flags and defaults)."""

    branch: str = "main"
    #: Pipeline path inside the repository (None: the stack's, else ``pipeline.dot``).
    pipeline: str | None = None
    candidates: int = 1
    concurrency: int = 1
    agent_profile: str = "real"
    agent_executable: Path | None = None
    #: The agent (``spec.engine``): provider, model, backend, gateway; None: unset.
    provider: str | None = None
    model: str | None = None
    backend: str | None = None
    base_url: str | None = None
    #: Where the key comes from: a variable name (locally), a Secret and key (a cluster).
    credential_env: str | None = None
    credential_secret: str | None = None
    credential_key: str | None = None


@dataclass(frozen=True)
class TemplatePlan:
    """A product to scaffold from a stack: what to render, where, and the Product it makes."""

    stack: Stack
    manifest: Manifest
    repo: Path
    holdouts: Path
    product: Product


@dataclass(frozen=True)
class Scaffolded:
    """A product added from a stack: the stored Product, what was made, the steps left."""

    product: Product
    scaffold: Scaffold
    next_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Removal:
    """What ``remove_product`` did."""

    #: How many runs the product had (they go with it).
    runs: int
    #: The store kept the product to finalize: the control plane removes its runs first.
    deferred: bool


def product_from_repo(
    name: str,
    repo: str,
    choices: ProductChoices,
    *,
    namespace: str = "default",
    on_cluster: bool = False,
    source: str = "product",
) -> Product:
    """A Product (not stored yet) of an existing repository: a local path or a git URL.

    A local path is made absolute, except on a cluster, where it names a
    directory the runner pods see and is taken as given.
    """
    spec = _spec(choices)
    remote = "://" in repo or repo.startswith("git@")
    local = repo if on_cluster else _absolute(repo)
    spec["repo"] = {"url": repo} if remote else {"path": local}
    return _product(name, namespace, spec, choices.pipeline, source)


def plan_from_template(
    name: str,
    template: str,
    choices: ProductChoices,
    *,
    home: Path,
    namespace: str = "default",
    path: Path | None = None,
    holdouts: Path | None = None,
    on_cluster: bool = False,
    source: str = "product",
) -> TemplatePlan:
    """What ``add_from_template`` would make of stack ``template``; nothing is written.

    The repository goes to ``path`` (default ``./NAME``), the holdouts to
    ``holdouts`` (default ``HOME/holdouts/NAMESPACE/NAME``); the stack's
    manifest supplies the pipeline, verifiers, service and gate.
    """
    if on_cluster:
        raise InvalidInputError(
            "--template scaffolds a local repository; for a cluster, push it and register "
            "it with --repo URL (and its holdouts as a Secret)"
        )
    stack = load_stack(template)
    manifest = read_manifest(stack, name)
    target = (path if path is not None else Path.cwd() / name).resolve()
    held = (holdouts if holdouts is not None else home / "holdouts" / namespace / name).resolve()
    spec = _spec(choices) | manifest.product
    spec |= {"repo": {"path": str(target)}, "holdouts": {"path": str(held)}}
    product = _product(name, namespace, spec, choices.pipeline, source)
    return TemplatePlan(stack, manifest, target, held, product)


def add_product(store: ResourceStore, product: Product, admit: AdmitProduct) -> Product:
    """Admit ``product`` and store it (``ConflictError`` if the name is taken)."""
    admit(product)
    return store.create(product)


def add_from_template(store: ResourceStore, plan: TemplatePlan, admit: AdmitProduct) -> Scaffolded:
    """Scaffold the planned repository and holdouts, then admit and store the product.

    A product that exists already is refused before anything is scaffolded;
    if the product cannot be stored, what was scaffolded is removed again.
    """
    name, namespace = plan.product.metadata.name, plan.product.metadata.namespace
    _must_be_new(store, name, namespace)
    made = scaffold(plan.stack, name, plan.repo, plan.holdouts)
    try:
        created = add_product(store, plan.product, admit)
    except BaseException:  # leave nothing behind, so the same command can be run again
        made.discard()
        raise
    steps = [
        s.format(repo=made.repo, holdouts=made.holdouts, name=name)
        for s in plan.manifest.next_steps
    ]
    return Scaffolded(created, made, steps)


def list_products(store: ResourceStore, namespace: str | None = None) -> list[Product]:
    """Products (in ``namespace``, or all), in the store's order."""
    return store.list(Product, namespace)


def get_product(store: ResourceStore, name: str, namespace: str = "default") -> Product:
    """The product, or ``NotFoundError``."""
    return store.get(Product, name, namespace)


def runs_of(product: Product, runs: list[Run]) -> list[Run]:
    """The runs of ``product`` among ``runs``, in their order."""
    meta = product.metadata
    return [
        r
        for r in runs
        if r.spec.product_ref.name == meta.name and r.metadata.namespace == meta.namespace
    ]


def remove_product(
    store: ResourceStore, name: str, namespace: str = "default", *, force: bool = False
) -> Removal:
    """Unregister a product; its runs go with it, its repository is never touched.

    While it has active runs this raises ``ConflictError`` naming them,
    unless ``force``: then they are asked to stop first.
    """
    product = get_product(store, name, namespace)
    runs = runs_of(product, store.list(Run, namespace))
    active = active_runs(runs)
    if active and not force:
        names = ", ".join(r.metadata.name for r in active)
        raise ConflictError(
            f"product {name!r} has {len(active)} active run(s) ({names}); "
            "stop them first (`sf run stop NAME`) or use --force"
        )
    for run in active:
        stop_run(store, run.metadata.name, namespace)
    remaining = store.delete(Product, name, namespace)
    return Removal(runs=len(runs), deferred=remaining is not None)


def _spec(choices: ProductChoices) -> dict[str, Any]:
    engine: dict[str, Any] = {"agentProfile": choices.agent_profile}
    if choices.agent_executable is not None:
        engine["agentExecutable"] = _absolute(str(choices.agent_executable))
    chosen = {"provider": choices.provider, "model": choices.model,
              "backend": choices.backend, "baseUrl": choices.base_url}  # fmt: skip
    engine |= {key: value for key, value in chosen.items() if value is not None}
    credential = {"env": choices.credential_env, "secretName": choices.credential_secret,
                  "secretKey": choices.credential_key}  # fmt: skip
    if any(value is not None for value in credential.values()):
        engine["credential"] = {k: v for k, v in credential.items() if v is not None}
    return {
        "branch": choices.branch,
        "candidates": choices.candidates,
        "concurrency": choices.concurrency,
        "engine": engine,
    }


def _product(
    name: str, namespace: str, spec: dict[str, Any], pipeline: str | None, source: str
) -> Product:
    if pipeline is not None or "pipeline" not in spec:
        spec["pipeline"] = pipeline or DEFAULT_PIPELINE
    return parse_as(  # the whole resource is checked before anything is written
        Product, {"metadata": {"name": name, "namespace": namespace}, "spec": spec}, source=source
    )


def _must_be_new(store: ResourceStore, name: str, namespace: str) -> None:
    try:
        store.get(Product, name, namespace)
    except NotFoundError:
        return
    raise ConflictError(f"product {name!r} already exists in namespace {namespace!r}")


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())
