"""``sf run start|list|status|stop|resume|logs|delete``: drive and watch runs.

``start`` creates a Run (checked first: the product exists, its pipeline
validates); ``stop`` and ``resume`` only change ``spec.desiredState`` and
the control plane carries them out, so ``kubectl``, the dashboard and ``sf``
are equivalent. ``--wait`` and ``logs -f`` follow the run's live events and
need ``sf up`` running; they say so when it is not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer
import yaml

from factoryos.cli.factory import (
    DASHBOARD_HINT,
    NamespaceOption,
    admit_to,
    on_cluster,
    open_store,
    require_control_plane,
)
from factoryos.cli.output import OutputFormat, OutputOption, emit, progress
from factoryos.cli.views import runs_table, status_text
from factoryos.controlplane import control_plane_pid
from factoryos.errors import InvalidInputError
from factoryos.events import Event, EventType, read_from
from factoryos.events.dashboard import DashboardEvents
from factoryos.models import Evaluation, Run, RunPhase, dump_resource, parse_as
from factoryos.runs import list_runs, new_run, resume_run, settled, start_run, stop_run
from factoryos.settings import Settings
from factoryos.store import ResourceStore
from factoryos.telemetry import Telemetry
from factoryos.workloads import RunDirectory

app = typer.Typer(help="Start, watch, stop and resume runs.", no_args_is_help=True)

WaitOption = Annotated[
    bool, typer.Option("--wait", help="Follow the run's events until it ends (needs `sf up`).")
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Give up waiting after this many seconds.")
]
#: The events ``--wait`` prints (``logs`` prints them all).
_FOLLOWED = frozenset(
    {
        EventType.RUN_STARTED,
        EventType.RUN_RESUMED,
        EventType.RUN_STOP_REQUESTED,
        EventType.RUN_FINISHED,
        EventType.STAGE_STARTED,
        EventType.STAGE_COMPLETED,
        EventType.STAGE_RETRYING,
        EventType.LOG,
    }
)
#: How often a follower looks for new events and status.
POLL_SECONDS = 0.2


@app.command()
def start(
    product: Annotated[str, typer.Argument(help="The product to run.")],
    goal: Annotated[str, typer.Option("--goal", "-g", help="What the run should achieve.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: generated).")
    ] = None,
    candidates: Annotated[
        int | None, typer.Option("--candidates", "-k", help="K candidates (default: product's).")
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option("--pipeline", help="Pipeline path in the repo (default: product's)."),
    ] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 3600.0,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Start a run of a product; with --wait, follow it and exit 0 only if it succeeds."""
    settings = Settings.from_env()
    if wait:
        require_control_plane(settings, "`sf run start --wait`")
    run = new_run(
        product,
        goal,
        namespace=namespace,
        name=name,
        candidates=candidates,
        pipeline=pipeline,
        source="sf run start",
    )
    run_name = run.metadata.name
    store = open_store(settings)
    tracing = Telemetry.from_env("factoryos-cli", os.environ)
    try:
        created = start_run(store, run, lambda r: admit_to(settings, r, store), tracing)
    finally:
        tracing.shutdown()
    if not wait:
        emit(dump_resource(created), output, lambda _: f"run.factoryos.dev/{run_name} created")
        return
    progress(f"run.factoryos.dev/{run_name} created; following its events (Ctrl-C stops following)")
    _follow_to_the_end(settings, store, run_name, namespace, timeout, output)


@app.command("list")
def list_(
    product: Annotated[
        str | None, typer.Option("--product", "-p", help="Only this product.")
    ] = None,
    namespace: NamespaceOption = "default",
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Runs of every namespace.")
    ] = False,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """List runs, newest first."""
    store = open_store(Settings.from_env())
    runs = list_runs(store, None if all_namespaces else namespace, product)
    data = [dump_resource(r) for r in runs]
    emit(data, output, lambda _: runs_table(data, all_namespaces))


@app.command()
def status(
    name: str, namespace: NamespaceOption = "default", output: OutputOption = OutputFormat.TEXT
) -> None:
    """Show a run: phase, conditions, candidates and the stages table."""
    run = open_store(Settings.from_env()).get(Run, name, namespace)
    emit(dump_resource(run), output, _status_text)


def _status_text(data: dict[str, Any]) -> str:
    return status_text(data, _gate_line)


def _gate_line(evaluation: Mapping[str, Any]) -> str:
    return parse_as(Evaluation, evaluation).describe()


@app.command()
def stop(
    name: str,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has stopped.")] = False,
    timeout: TimeoutOption = 120.0,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Stop a run gracefully (spec.desiredState=Stopped); it keeps its checkpoint."""
    settings = Settings.from_env()
    store = open_store(settings)
    run = stop_run(store, name, namespace)
    if wait:
        require_control_plane(settings, "`sf run stop --wait`")
        run = _follow(settings, store, name, namespace, timeout, show=False)
    emit(
        dump_resource(run),
        output,
        lambda _: f"run.factoryos.dev/{name} " + ("stopped" if wait else "stopping"),
    )


@app.command()
def resume(
    name: str,
    wait: WaitOption = False,
    timeout: TimeoutOption = 3600.0,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Resume a stopped run from its last checkpoint (spec.desiredState=Running)."""
    settings = Settings.from_env()
    store = open_store(settings)
    if wait:
        require_control_plane(settings, "`sf run resume --wait`")
    run = resume_run(store, name, namespace)
    if not wait:
        emit(dump_resource(run), output, lambda _: f"run.factoryos.dev/{name} resuming")
        return
    _follow_to_the_end(settings, store, name, namespace, timeout, output)


@app.command()
def delete(
    name: str,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Delete a run: the control plane stops its workloads first (its files are kept)."""
    store = open_store(Settings.from_env())
    remaining = store.delete(Run, name, namespace)
    state = "deleting" if remaining is not None else "deleted"
    emit(
        {"kind": "Run", "name": name, "result": state},
        output,
        lambda _: f"run.factoryos.dev/{name} {state}",
    )


@app.command()
def logs(
    name: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until the run ends.")
    ] = False,
    after: Annotated[int, typer.Option("--after", help="Only events with a higher sequence.")] = 0,
    timeout: TimeoutOption = 3600.0,
    namespace: NamespaceOption = "default",
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Print a run's events (-o json: the CloudEvents, one per line)."""
    settings = Settings.from_env()
    store = open_store(settings)
    store.get(Run, name, namespace)
    read = event_reader(settings, namespace, name, after)
    if read is None:
        raise InvalidInputError(
            f"on a cluster `sf run logs` reads a run's events from the dashboard: {DASHBOARD_HINT}"
        )
    if follow:
        require_control_plane(settings, "`sf run logs -f`")
    show = _printer(output)
    for event in read():
        show(event)
    if not follow:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = settled(store.get(Run, name, namespace))
        for event in read():
            show(event)
        if done:
            return
        time.sleep(POLL_SECONDS)
    raise InvalidInputError(f"gave up following run {name!r} after {timeout:g}s")


def event_reader(
    settings: Settings, namespace: str, name: str, after: int = 0
) -> Callable[[], list[Event]] | None:
    """A function returning the run's events not read yet (after ``after``), in order.

    Locally it reads the run's log; on a cluster it asks the dashboard's API
    (None when FACTORYOS_DASHBOARD_URL/TOKEN are not set).
    """
    if not on_cluster(settings):
        path = RunDirectory.of(settings.runs_dir, namespace, name).events
        offset = 0

        def from_file() -> list[Event]:
            nonlocal offset
            events, offset = read_from(path, offset)
            return [e for e in events if e.sequence > after]

        return from_file
    if not settings.dashboard_url or not settings.dashboard_token:
        return None
    dashboard = DashboardEvents(settings.dashboard_url, settings.dashboard_token)
    last = after

    def from_dashboard() -> list[Event]:
        nonlocal last
        found = [Event.model_validate(e) for e in dashboard.raw(namespace, name, last)]
        if found:
            last = found[-1].sequence
        return found

    return from_dashboard


def _printer(output: OutputFormat) -> Callable[[Event], None]:
    """How ``logs`` prints one event: a line for people, a JSON line, or a YAML document."""
    if output is OutputFormat.TEXT:
        return lambda event: typer.echo(event_line(event))
    if output is OutputFormat.JSON:
        return lambda event: typer.echo(event.to_json_line())
    return lambda event: typer.echo(
        "---\n" + yaml.safe_dump(event.model_dump(mode="json", exclude_none=True), sort_keys=False),
        nl=False,
    )


def event_line(event: Event) -> str:
    """One event for people: ``#12 10:42:07 c0 implement: stage completed success``."""
    data = event.data
    stamp = event.time.astimezone().strftime("%H:%M:%S")
    who = f"c{data['candidate']}" if "candidate" in data else "--"
    kind = event.type.removeprefix("dev.factoryos.")
    what = f"{event.subject}: " if event.subject else ""
    detail = ""
    if event.type == EventType.STAGE_STARTED:
        detail = f" (attempt {data.get('attempt')})"
    elif event.type in {EventType.STAGE_COMPLETED, EventType.RUN_FINISHED}:
        detail = f" {data.get('status')}"
        reason = data.get("failure_reason") or data.get("reason")
        detail += f": {reason}" if reason else ""
    elif event.type == EventType.LOG:
        detail = f" {data.get('level', 'info')}: {data.get('message')}"
    return f"#{event.sequence:<4} {stamp} {who} {what}{kind}{detail}"


def _follow_to_the_end(
    settings: Settings,
    store: ResourceStore,
    name: str,
    namespace: str,
    timeout: float,
    output: OutputFormat,
) -> None:
    """Follow the run, print its final status, exit 0 only if it succeeded."""
    final = _follow(settings, store, name, namespace, timeout, show=output is OutputFormat.TEXT)
    emit(dump_resource(final), output, _status_text)
    raise typer.Exit(0 if final.status.phase is RunPhase.SUCCEEDED else 1)


def _follow(
    settings: Settings,
    store: ResourceStore,
    name: str,
    namespace: str,
    timeout: float,
    *,
    show: bool,
) -> Run:
    read = event_reader(settings, namespace, name) if show else None
    deadline = time.monotonic() + timeout
    last_phase: RunPhase | None = None
    while time.monotonic() < deadline:
        run = store.get(Run, name, namespace)
        new = read() if read is not None else []  # on a cluster without a dashboard: phases
        if show:
            for event in new:
                if event.type in _FOLLOWED:
                    progress(event_line(event))
            if run.status.phase != last_phase and run.status.phase is not None:
                progress(
                    f"run {name}: {run.status.phase.value}"
                    + (f" ({run.status.message})" if run.status.message else "")
                )
                last_phase = run.status.phase
        if settled(run):
            return run
        if not on_cluster(settings) and control_plane_gone(settings):
            raise InvalidInputError(
                "the control plane stopped while following the run; "
                "start `sf up` again and follow with `sf run logs -f`"
            )
        time.sleep(POLL_SECONDS)
    raise InvalidInputError(f"gave up waiting for run {name!r} after {timeout:g}s (it goes on)")


def control_plane_gone(settings: Settings) -> bool:
    return control_plane_pid(settings.home) is None
