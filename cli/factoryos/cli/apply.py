"""``sf apply -f FILE|-``: create or update Products and Runs from YAML, as ``kubectl apply`` does.

Every document is parsed and checked before anything is written: one bad
document (invalid YAML, an unknown kind or field, a Run of an unknown
product, a missing repository, a pipeline that fails validation) fails the
whole command with one line and leaves the store unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from factoryos.cli.factory import admission, open_store
from factoryos.cli.output import OutputFormat, OutputOption, emit
from factoryos.errors import InvalidInputError
from factoryos.models import Product, load_resources
from factoryos.settings import Settings


def apply(
    file: Annotated[
        str,
        typer.Option("--filename", "-f", help="A YAML file of Products and Runs, or - for stdin."),
    ],
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Create or update the Products and Runs in a YAML file (multi-document, like kubectl)."""
    settings = Settings.from_env()
    text, source = _read(file)
    resources = load_resources(text, source=source)
    if not resources:
        raise InvalidInputError(f"{source}: no resources found")
    store = open_store(settings)
    products = [r for r in resources if isinstance(r, Product)]
    admit = admission(settings, store)
    for resource in resources:
        admit(resource, products)
    results: list[dict[str, Any]] = []
    for resource in resources:
        if isinstance(resource, Product):
            what = store.apply(resource)[1]
        else:
            what = store.apply(resource)[1]  # the same call, typed per kind
        meta = resource.metadata
        results.append({"kind": resource.kind, "name": meta.name, "result": what.value})
    emit(
        results,
        output,
        lambda rows: "\n".join(
            f"{r['kind'].lower()}.factoryos.dev/{r['name']} {r['result']}" for r in rows
        ),
    )


def _read(file: str) -> tuple[str, str]:
    if file == "-":
        return _decode(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    path = Path(file)
    try:
        return _decode(path.read_bytes(), str(path)), str(path)
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{source}: not UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None
