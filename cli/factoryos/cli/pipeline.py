"""``sf pipeline``: validate and run Attractor pipelines through Kilroy.

``validate`` wraps Kilroy's batch validator; ``ingest`` has Kilroy's ingest (the claude
CLI) write a pipeline from a requirements document, then validates it; ``run`` starts
one Kilroy run on a workspace, prints each stage live (stderr) and the outcome (stdout), records the
run's events, and exits with the run's status. The work happens in the core
(``factoryos.kilroy``, ``factoryos.runner``); this module parses, calls and prints.
``run``'s body and the helpers ``resume`` shares are ``factoryos.cli.pipelinerun``,
which also starts the plain ``sf pipeline run`` without Typer.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from factoryos.cli.output import OutputFormat, OutputOption, emit, progress
from factoryos.cli.pipelinerun import kilroy_for, report_status, run_pipeline, runner
from factoryos.errors import InvalidInputError, NotFoundError
from factoryos.kilroy import Diagnostic, FileValidation
from factoryos.kilroy.layout import LOGS_DIR
from factoryos.settings import Settings
from factoryos.workloads import EVENTS_FILE

if TYPE_CHECKING:
    # The ingest brings the agent models (pydantic): imported by `sf pipeline ingest` only.
    from factoryos.kilroy.ingest import IngestResult

#: The model ``sf pipeline ingest`` asks for; ``factoryos.kilroy.ingest.DEFAULT_MODEL``
#: (a unit test keeps them equal; importing it here would cost every `sf pipeline` command).
INGEST_MODEL = "claude-sonnet-4.5"

app = typer.Typer(help="Validate and run Attractor pipelines with Kilroy.", no_args_is_help=True)

EXIT_ERRORS, EXIT_WARNINGS = 1, 2


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Pipeline DOT files.", show_default=False)],
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Validate pipelines. Exit 0 when clean, 1 on any error, 2 on warnings only."""
    settings = Settings.from_env()
    results = kilroy_for(settings).validate(files)
    emit([r.to_dict() for r in results], output, lambda _: _validation_text(results))
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_ERRORS)
    if any(r.warnings for r in results):
        raise typer.Exit(EXIT_WARNINGS)


def _validation_text(results: list[FileValidation]) -> str:
    lines: list[str] = []
    for r in results:
        if r.parse_error:
            where = f"{r.file}:{r.parse_line}:{r.parse_column}" if r.parse_line else str(r.file)
            lines.append(f"{where}: error: {r.parse_error}")
            continue
        for d in [*r.errors, *r.warnings]:
            lines.append(f"{r.file}: {d.severity.lower()}: {d.message} [{d.rule}]{_where(d)}")
        if not r.errors and not r.warnings:
            lines.append(f"{r.file}: ok")
    errors = sum(len(r.errors) + (1 if r.parse_error else 0) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    lines.append(f"{len(results)} file(s): {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def _where(d: Diagnostic) -> str:
    if d.node_id:
        return f" (node {d.node_id})"
    if d.edge_from or d.edge_to:
        return f" (edge {d.edge_from} -> {d.edge_to})"
    return ""


@app.command()
def ingest(
    spec: Annotated[
        str, typer.Argument(help="The requirements (a Markdown file), or - for stdin.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the pipeline (DOT).")
    ],
    model: Annotated[str, typer.Option("--model", help="The model claude uses.")] = INGEST_MODEL,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="A gateway for the model (ANTHROPIC_BASE_URL)."),
    ] = None,
    credential_env: Annotated[
        str, typer.Option("--credential-env", help="The variable holding the Anthropic key.")
    ] = "ANTHROPIC_API_KEY",
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="A repository claude may read for context (default: cwd)."),
    ] = None,
    skill: Annotated[
        Path | None,
        typer.Option("--skill", help="Kilroy's create-dotfile SKILL.md (default: found)."),
    ] = None,
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", min=1, help="claude's turn limit (Kilroy: 15).")
    ] = None,
) -> None:
    """Write a pipeline from a requirements document with Kilroy's ingest (the claude CLI),
    then validate it. Exit 0 when Kilroy accepts it, 1 when it refuses it (each finding is
    printed; the file is kept to fix), another status when the ingest itself fails."""
    try:
        text = sys.stdin.read() if spec == "-" else Path(spec).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {spec}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{spec} is not UTF-8 text") from exc
    from factoryos.kilroy.ingest import IngestRequest
    from factoryos.kilroy.ingest import ingest as run_ingest

    request = IngestRequest(
        requirements=text, output=output, model=model, base_url=base_url,
        credential_env=credential_env, repo=repo, skill=skill, max_turns=max_turns,
    )  # fmt: skip
    settings = Settings.from_env()
    result = run_ingest(kilroy_for(settings), request, os.environ, progress)
    typer.echo(_ingest_text(result))
    if not result.ok:
        raise typer.Exit(EXIT_ERRORS)


def _ingest_text(result: IngestResult) -> str:
    findings = _validation_text([result.validation])
    if result.ok:
        return f"{findings}\nwrote {result.output}"
    return (
        f"{findings}\nKilroy v0.1.0 refuses the pipeline written to {result.output}: fix the "
        f"findings above (edit the file, or the requirements and ingest again), then check it "
        f"with `sf pipeline validate {result.output}`"
    )


@app.command()
def run(
    graph: Annotated[Path, typer.Argument(help="The pipeline DOT file.", show_default=False)],
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace", "-w", help="Git repository the pipeline works on (created if missing)."
        ),
    ],
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="KEY=VALUE given to tool nodes as KILROY_INPUT_<KEY>."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (default: <graph>-<time>).")
    ] = None,
    product: Annotated[
        str, typer.Option("--product", help="Product name used in event sources.")
    ] = "adhoc",
    agent_profile: Annotated[
        str,
        typer.Option(
            "--agent-profile", help="real, or test_shim to run agents via --agent-executable."
        ),
    ] = "real",
    agent_executable: Annotated[
        Path | None,
        typer.Option("--agent-executable", help="Stand-in agent CLI for the test_shim profile."),
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a stop waits before killing.")
    ] = 5.0,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Run a pipeline on a workspace and exit with its status (0 success, 1 failure)."""
    raise typer.Exit(
        run_pipeline(
            graph=graph,
            workspace=workspace,
            inputs=inputs,
            run_id=run_id,
            product=product,
            agent_profile=agent_profile,
            agent_executable=agent_executable,
            grace=grace,
            output=output,
        )
    )


@app.command()
def resume(
    run_id: Annotated[
        str, typer.Argument(help="The run id `sf pipeline run` printed.", show_default=False)
    ],
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a stop waits before killing.")
    ] = 5.0,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Continue a stopped or interrupted `sf pipeline run` from its last checkpoint
    (completed stages are not run again); exit with its status (0 success, 1 failure)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = Settings.from_env()
    run_dir = settings.runs_dir / run_id
    if not (run_dir / LOGS_DIR / "checkpoint.json").is_file():
        raise NotFoundError(
            f"no checkpoint of a pipeline run {run_id!r} in {run_dir / LOGS_DIR} "
            "(`sf pipeline run` prints the run id and its logs folder)"
        )
    resumer = runner(kilroy_for(settings), _product_of(run_dir / EVENTS_FILE), grace)
    raise typer.Exit(report_status(resumer.resume(run_dir, run_id), output))


def _product_of(events: Path) -> str:
    """The product the run's events name (``/products/<p>/runs/<id>``), so the resumed
    run's events continue the same source."""
    from factoryos.events.log import iter_lines

    for line in iter_lines(events):
        found = re.match(r"^/products/([^/]+)/runs/", str(line.get("source", "")))
        if found:
            return found.group(1)
    return "adhoc"
