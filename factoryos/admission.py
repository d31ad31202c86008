"""Checks a Product or Run must pass before it is stored (the embedded mode's admission).

``sf apply``, ``sf product add`` and ``sf run start`` call ``admit`` before
writing, so bad input is refused with one line and the store is unchanged;
the controller calls ``repository_problem`` on every pass and reports it as
a condition (a repository can disappear after it was admitted). Remote
repositories (``repo.url``) are not checked here: no network.

One ``admitter`` serves one request: it validates each pipeline (as committed,
with its model stylesheet) once, so ``sf apply`` of 200 Runs of one product
runs ``kilroy attractor validate`` once, not 200 times.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from factoryos.errors import InvalidInputError, NotFoundError
from factoryos.git import git
from factoryos.kilroy import Kilroy, find_kilroy
from factoryos.kilroy.agents import model_stylesheet
from factoryos.kilroy.graph_overrides import with_graph_attributes
from factoryos.models import Product, Run
from factoryos.models.agents import AgentChoice, merged
from factoryos.runner import ensure_valid
from factoryos.settings import Settings
from factoryos.store import ResourceStore

#: Validates one pipeline file; raises ``ValidationFailedError`` when it is not valid.
PipelineCheck = Callable[[Path], None]
#: Pipeline checks made in one request: (repository, branch, pipeline, model stylesheet)
#: to the error it ended in, or None when it passed.
CheckedPipelines = dict[tuple[str, str, str, str], InvalidInputError | None]


def repository_problem(product: Product) -> str | None:
    """Why the product's local repository cannot be used, or None."""
    spec = product.spec
    if spec.repo.path is None:
        return None
    repo = Path(spec.repo.path)
    if not repo.is_dir():
        return f"repository {repo} does not exist"
    if git(repo, "rev-parse", "--git-dir").returncode != 0:
        return f"{repo} is not a git repository"
    if git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{spec.branch}").returncode != 0:
        return f"branch {spec.branch!r} not found in {repo}"
    if git(repo, "cat-file", "-e", f"{spec.branch}:{spec.pipeline}").returncode != 0:
        return f"pipeline {spec.pipeline} not found on branch {spec.branch} of {repo}"
    return None


def admit(
    resource: Product | Run,
    store: ResourceStore,
    validate: PipelineCheck | None = None,
    *,
    pending: list[Product] | None = None,
    local: bool = True,
    checked: CheckedPipelines | None = None,
) -> None:
    """Raise a one-line ``FactoryError`` unless ``resource`` may be stored.

    ``pending`` are products admitted in the same request (``sf apply`` of a
    Product and its Runs in one file). ``validate`` checks the pipeline.
    ``local=False`` (a cluster) skips the repository checks: the repository is
    where the runner pods are, not here. ``checked`` remembers the pipeline
    checks made so far in the same request (see ``check_pipeline``).
    """
    if not local:
        if isinstance(resource, Run):
            _product_of(resource, store, pending or [])
        return
    if isinstance(resource, Product):
        problem = repository_problem(resource)
        if problem:
            raise InvalidInputError(f"product {resource.metadata.name!r}: {problem}")
        if validate is not None and resource.spec.repo.path is not None:
            check_pipeline(resource, resource.spec.pipeline, validate, checked=checked)
        return
    product = _product_of(resource, store, pending or [])
    if validate is not None and product.spec.repo.path is not None:
        pipeline = resource.spec.pipeline or product.spec.pipeline
        check_pipeline(product, pipeline, validate, resource.spec.engine, checked=checked)


def kilroy_check(settings: Settings, env: Mapping[str, str]) -> PipelineCheck:
    """A ``PipelineCheck`` that runs ``kilroy attractor validate`` (found from the settings)."""
    kilroy = Kilroy(find_kilroy(settings, env), settings)

    def check(path: Path) -> None:
        (validation,) = kilroy.validate([path])
        ensure_valid(validation)

    return check


class Admitter(Protocol):
    def __call__(self, resource: Product | Run, pending: list[Product] | None = None) -> None: ...


def admitter(
    settings: Settings,
    store: ResourceStore,
    env: Mapping[str, str],
    *,
    on_cluster: bool = False,
) -> Admitter:
    """``admit`` bound to where the factory runs: every check locally, fewer on a cluster.
    Use one for one request: it validates each pipeline once (see ``check_pipeline``)."""
    local = not on_cluster and settings.kube_context is None
    check = kilroy_check(settings, env) if local else None
    checked: CheckedPipelines = {}

    def admit_here(resource: Product | Run, pending: list[Product] | None = None) -> None:
        admit(resource, store, check, pending=pending, local=local, checked=checked)

    return admit_here


def check_pipeline(
    product: Product,
    pipeline: str,
    validate: PipelineCheck,
    run_engine: AgentChoice | None = None,
    *,
    checked: CheckedPipelines | None = None,
) -> None:
    """Validate ``pipeline`` as committed on the product's branch, with the agent choice
    (the product's engine, a Run's override over it) as its model stylesheet: what
    candidates will run (the runner writes the same into each candidate's copy).

    With ``checked``, a pipeline already checked with the same stylesheet in this
    request is not checked again: its earlier outcome stands."""
    assert product.spec.repo.path is not None
    stylesheet = model_stylesheet(merged(product.spec.engine, run_engine))
    key = (product.spec.repo.path, product.spec.branch, pipeline, stylesheet)
    if checked is not None and key in checked:
        problem = checked[key]
        if problem is not None:
            raise problem.with_traceback(None)  # the same error, its findings too
        return
    try:
        _check_pipeline(product, pipeline, validate, stylesheet)
    except InvalidInputError as exc:
        if checked is not None:
            checked[key] = exc
        raise
    if checked is not None:
        checked[key] = None


def _check_pipeline(
    product: Product, pipeline: str, validate: PipelineCheck, stylesheet: str
) -> None:
    assert product.spec.repo.path is not None
    repo, branch = Path(product.spec.repo.path), product.spec.branch
    shown = git(repo, "show", f"{branch}:{pipeline}")
    if shown.returncode != 0:
        raise InvalidInputError(
            f"product {product.metadata.name!r}: pipeline {pipeline} not found on branch "
            f"{branch} of {repo}"
        )
    with tempfile.TemporaryDirectory(prefix="factoryos-admit-") as tmp:
        copy = Path(tmp) / Path(pipeline).name
        copy.write_text(with_graph_attributes(shown.stdout, {"model_stylesheet": stylesheet}))
        try:
            validate(copy)
        except InvalidInputError as exc:
            where = f"{repo}@{branch}:{pipeline}"
            raise type(exc)(str(exc).replace(str(copy), where)) from None


def _product_of(run: Run, store: ResourceStore, pending: list[Product]) -> Product:
    name, namespace = run.spec.product_ref.name, run.metadata.namespace
    for product in pending:
        if product.metadata.name == name and product.metadata.namespace == namespace:
            return product
    try:
        return store.get(Product, name, namespace)
    except NotFoundError:
        raise NotFoundError(
            f"run {run.metadata.name!r}: product {name!r} not found "
            "(`sf product list` shows the products)"
        ) from None
