"""Shaping store objects and events for the pages (pure functions, no I/O but the store)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from factoryos.events import Event, EventType
from factoryos.models import ConditionType, Product, Run, StageState
from factoryos.products import list_products, runs_of
from factoryos.store import ResourceStore

#: Stage states as the page's CSS and live.js name them.
STAGE_CLASS = {
    StageState.PENDING: "pending",
    StageState.RUNNING: "running",
    StageState.RETRYING: "retrying",
    StageState.SUCCEEDED: "succeeded",
    StageState.FAILED: "failed",
    StageState.SKIPPED: "skipped",
}


def stage_state(state: StageState) -> str:
    return STAGE_CLASS[state]


@dataclass(frozen=True)
class ProductRow:
    """One line of the products page."""

    product: Product
    ready: str
    message: str
    last_run: Run | None
    runs: int

    @property
    def repo(self) -> str:
        repo = self.product.spec.repo
        return repo.path or repo.url or "-"


def product_rows(store: ResourceStore) -> list[ProductRow]:
    runs = store.list(Run)
    rows = []
    for product in list_products(store):
        mine = runs_of(product, runs)
        mine.sort(key=lambda r: str(r.metadata.creation_timestamp or ""))
        ready = next((c for c in product.status.conditions if c.type == ConditionType.READY), None)
        rows.append(
            ProductRow(
                product,
                "Unknown" if ready is None else ready.status.value,
                "" if ready is None else ready.message or ready.reason,
                mine[-1] if mine else None,
                len(mine),
            )
        )
    return rows


def event_summary(event: Event) -> dict[str, Any]:
    """What the event log on a run page shows for one event (live.js builds the same)."""
    data = event.data
    detail = ""
    if event.type == EventType.STAGE_STARTED:
        detail = f"attempt {data.get('attempt')}"
    elif event.type in {EventType.STAGE_COMPLETED, EventType.RUN_FINISHED}:
        detail = str(data.get("status", ""))
        reason = data.get("failure_reason") or data.get("reason")
        if reason:
            detail += f": {reason}"
    elif event.type == EventType.LOG:
        detail = f"{data.get('level', 'info')}: {data.get('message', '')}"
    elif event.type == EventType.ENGINE_EVENT:
        detail = str(data.get("kilroy_event", ""))
    return {
        "sequence": event.sequence,
        "time": event.time,
        "type": event.type.removeprefix("dev.factoryos."),
        "candidate": data.get("candidate"),
        "subject": event.subject or "",
        "detail": detail,
    }
