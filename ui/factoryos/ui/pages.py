"""The dashboard's HTML pages and the fragments ``live.js`` refreshes.

Every page is rendered from the store and the run directory at request time
and carries the cursor (``data-cursor``) its live stream resumes from, so
nothing that happened before the page loaded is lost and nothing repeats.
Forms post with the CSRF token and change runs through ``factoryos.runs``;
products are read through ``factoryos.products``, exactly as ``sf`` does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from factoryos.errors import FactoryError
from factoryos.models import Product, Run, StageStatus
from factoryos.products import get_product
from factoryos.rundata import stage_diff
from factoryos.runs import can_resume, can_stop, list_runs, new_run, resume_run, start_run, stop_run
from factoryos.ui.api import file_download
from factoryos.ui.auth import CSRF_FIELD, SESSION_COOKIE
from factoryos.ui.csrf import check_csrf
from factoryos.ui.graph import GraphUnavailableError, render_svg
from factoryos.ui.middleware import client_address
from factoryos.ui.state import TEMPLATES_DIR, AppState, app_state
from factoryos.ui.throttle import too_many_message
from factoryos.ui.views import event_summary, product_rows, stage_state
from factoryos.workloads import candidate_branch

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
State = Annotated[AppState, Depends(app_state)]
Guarded = [Depends(check_csrf)]
#: Events shown on a run page when it loads (older ones: ``sf run logs``).
EVENTS_ON_PAGE = 300


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    state = app_state(request)
    context.setdefault("csrf", state.credentials.current().csrf)
    context.setdefault("csrf_field", CSRF_FIELD)
    context.setdefault("now", datetime.now(UTC))
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> Response:
    if request.scope.get("state", {}).get("auth") is None:
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)
    return render(request, "error.html", status_code=status, status=status, message=message)


# -- signing in ----------------------------------------------------------------


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "signin.html", {"next": _local(next), "error": None})


@router.post("/signin")
def signin(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    state = app_state(request)
    client = client_address(request.scope)
    wait = state.throttle.retry_after(client)
    if wait is not None:  # refused without looking at the token
        return templates.TemplateResponse(
            request,
            "signin.html",
            {"next": _local(next), "error": too_many_message(wait) + "."},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    credentials = state.credentials.current()
    if not credentials.token_ok(token.strip()):
        state.throttle.failed(client)
        return templates.TemplateResponse(
            request,
            "signin.html",
            {"next": _local(next), "error": "That is not the dashboard token."},
            status_code=401,
        )
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, credentials.session, httponly=True, samesite="strict", path="/"
    )
    return response


@router.post("/signout", dependencies=Guarded)
def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


# -- products ------------------------------------------------------------------


@router.get("/")
def products_page(request: Request, state: State) -> Response:
    return render(request, "products.html", rows=product_rows(state.store))


@router.get("/fragments/products")
def products_fragment(request: Request, state: State) -> Response:
    return render(request, "_products.html", rows=product_rows(state.store))


@router.get("/products/{namespace}/{name}")
def product_page(request: Request, state: State, namespace: str, name: str) -> Response:
    product = get_product(state.store, name, namespace)
    return render(request, "product.html", product=product, runs=_runs_of(state, product))


@router.get("/fragments/products/{namespace}/{name}/runs")
def product_runs_fragment(request: Request, state: State, namespace: str, name: str) -> Response:
    product = get_product(state.store, name, namespace)
    return render(request, "_runs.html", product=product, runs=_runs_of(state, product))


@router.post("/products/{namespace}/{name}/runs", dependencies=Guarded)
def start_from_page(
    request: Request,
    state: State,
    namespace: str,
    name: str,
    goal: Annotated[str, Form()],
    candidates: Annotated[str, Form()] = "",
) -> Response:
    product = get_product(state.store, name, namespace)
    try:
        k = int(candidates) if candidates.strip() else None
        run = new_run(name, goal, namespace=namespace, candidates=k, source="the form")
        created = start_run(state.store, run, state.admit)
    except (FactoryError, ValueError) as exc:
        message = str(exc) if isinstance(exc, FactoryError) else "K must be a whole number"
        return render(
            request,
            "product.html",
            status_code=422,
            product=product,
            runs=_runs_of(state, product),
            error=message,
            goal=goal,
        )
    return RedirectResponse(_run_url(created), status_code=303)


def _runs_of(state: AppState, product: Product) -> list[Run]:
    return list_runs(state.store, product.metadata.namespace, product.metadata.name)


# -- runs ----------------------------------------------------------------------


@router.get("/runs/{namespace}/{name}")
def run_page(
    request: Request, state: State, namespace: str, name: str, candidate: int = 0
) -> Response:
    run = state.store.get(Run, name, namespace)
    events = state.hub.backlog(namespace, name, 0)
    cursor = events[-1].sequence if events else 0
    graph, graph_error = None, None
    source = state.pipeline_source(run, candidate)
    if source is None:
        graph_error = "The pipeline is not available yet."
    else:
        try:
            graph = render_svg(source)
        except GraphUnavailableError as exc:
            graph_error = str(exc)
    return render(
        request,
        "run.html",
        **_run_context(state, run, candidate),
        graph=graph,
        graph_error=graph_error,
        events=[event_summary(e) for e in events[-EVENTS_ON_PAGE:]],
        cursor=cursor,
        cxdb_ui_url=state.cxdb_ui_url,
    )


@router.get("/fragments/runs/{namespace}/{name}")
def run_fragment(
    request: Request, state: State, namespace: str, name: str, candidate: int = 0
) -> Response:
    run = state.store.get(Run, name, namespace)
    return render(request, "_run_status.html", **_run_context(state, run, candidate))


def _run_context(state: AppState, run: Run, candidate: int) -> dict[str, Any]:
    count = max(run.spec.candidates or 1, len(run.status.candidates), 1)
    stages: list[StageStatus] = [s for s in run.status.stages if s.candidate == candidate]
    files = state.files(run)
    published = files.published(candidate)
    return {
        "run": run,
        "candidate": candidate,
        "candidate_indexes": list(range(count)),
        "stages": stages,
        "stage_state": stage_state,
        "can_stop": can_stop(run),
        "can_resume": can_resume(run),
        "outputs": files.outputs(candidate),
        "published": published,
        "deploy_plan": files.deploy_plan(published),
    }


@router.post("/runs/{namespace}/{name}/stop", dependencies=Guarded)
def stop_from_page(state: State, namespace: str, name: str, candidate: int = 0) -> Response:
    run = stop_run(state.store, name, namespace)
    return RedirectResponse(_run_url(run, candidate), status_code=303)


@router.post("/runs/{namespace}/{name}/resume", dependencies=Guarded)
def resume_from_page(state: State, namespace: str, name: str, candidate: int = 0) -> Response:
    run = resume_run(state.store, name, namespace)
    return RedirectResponse(_run_url(run, candidate), status_code=303)


def _run_url(run: Run, candidate: int = 0) -> str:
    url = f"/runs/{quote(run.metadata.namespace)}/{quote(run.metadata.name)}"
    return url + (f"?candidate={candidate}" if candidate else "")


# -- stages and files ----------------------------------------------------------


@router.get("/runs/{namespace}/{name}/stages/{candidate}/{node}")
def stage_page(
    request: Request,
    state: State,
    namespace: str,
    name: str,
    candidate: int,
    node: str,
    view: str = "side-by-side",
) -> Response:
    run = state.store.get(Run, name, namespace)
    stage = next(
        (s for s in run.status.stages if s.candidate == candidate and s.name == node), None
    )
    diff = stage_diff(
        state.run_dir(run).repo(candidate),
        candidate_branch(run.metadata.name, candidate),
        candidate,
        node,
    )
    return render(
        request,
        "stage.html",
        run=run,
        candidate=candidate,
        node=node,
        stage=stage,
        diff=diff,
        view="line-by-line" if view == "line-by-line" else "side-by-side",
        files=state.files(run).stage_files(candidate, node),
    )


@router.get("/runs/{namespace}/{name}/artifacts/{path:path}")
def artifact_page(request: Request, state: State, namespace: str, name: str, path: str) -> Response:
    run = state.store.get(Run, name, namespace)
    files = state.files(run)
    text, cut = files.preview(path)
    return render(
        request,
        "artifact.html",
        run=run,
        path=path,
        size=files.resolve(path).stat().st_size,
        text=text,
        cut=cut,
    )


@router.get("/runs/{namespace}/{name}/raw/{path:path}")
def raw_file(state: State, namespace: str, name: str, path: str) -> Response:
    run = state.store.get(Run, name, namespace)
    return file_download(state, run, path)
