"""Kilroy progress events → Factory OS events (pure).

``translate_progress`` takes one parsed line of ``progress.ndjson`` and returns
the Factory OS events it stands for, as ``(type, data, subject)`` tuples ready
for ``EventLog.append``. The runner calls it for every line it follows.

Kilroy's envelope is flat: ``event`` (the name), ``ts``, ``run_id`` and, in
later versions, ``id``; every other field sits at top level. We keep ``ts`` and
``id`` as ``kilroy_ts``/``kilroy_id`` in ``data`` and drop ``run_id`` (the
event source already names the run). Nothing here raises: an event we do not
know, or a line without an ``event`` name, becomes an ``ENGINE_EVENT`` carrying
its fields, because consumers must ignore what they do not understand.

One retry produces one ``STAGE_RETRYING``: Kilroy v0.1.0 writes
``retry_decision`` (with ``will_retry`` and the reason) and then
``stage_retry_sleep`` (with the delay) for the same retry, so only the decision
maps to ``STAGE_RETRYING`` (``will_retry=false`` is not a retry) and the sleep
stays an ``ENGINE_EVENT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from factoryos.events import EventType

__all__ = ["TERMINAL_EVENTS", "Translated", "translate_progress"]

Translated = tuple[EventType, dict[str, Any], str | None]

#: Terminal progress events of later Kilroy versions (v0.1.0 writes none: see final.json).
TERMINAL_EVENTS = frozenset({"run_completed", "run_failed"})

_ENVELOPE = ("event", "ts", "id", "run_id")


def translate_progress(event: Mapping[str, Any]) -> list[Translated]:
    """The Factory OS events for one Kilroy progress event (never raises)."""
    name = event.get("event")
    handler = _HANDLERS.get(name) if isinstance(name, str) else None
    result = handler(event) if handler else None
    return [result] if result else [_engine_event(event)]


def _stage_started(ev: Mapping[str, Any]) -> Translated | None:
    node = _str(ev.get("node_id"))
    if not node:
        return None
    data = {"node_id": node, "attempt": ev.get("attempt"), "max": ev.get("max")}
    return EventType.STAGE_STARTED, _with_origin(data, ev), node


def _stage_completed(ev: Mapping[str, Any]) -> Translated | None:
    node = _str(ev.get("node_id"))
    if not node:
        return None
    data: dict[str, Any] = {
        "node_id": node,
        "status": _str(ev.get("status")) or "unknown",
        "attempt": ev.get("attempt"),
        "max": ev.get("max"),
    }
    if _str(ev.get("failure_reason")):
        data["failure_reason"] = _str(ev.get("failure_reason"))
    return EventType.STAGE_COMPLETED, _with_origin(data, ev), node


def _retry_decision(ev: Mapping[str, Any]) -> Translated | None:
    node = _str(ev.get("node_id"))
    if not node or ev.get("will_retry") is not True:
        return None
    attempt = ev.get("attempt")
    data: dict[str, Any] = {
        "node_id": node,
        "attempt": attempt,
        "next_attempt": attempt + 1 if isinstance(attempt, int) else None,
        "max_retries": ev.get("max_retries"),
    }
    if _str(ev.get("reason")):
        data["reason"] = _str(ev.get("reason"))
    return EventType.STAGE_RETRYING, _with_origin(data, ev), node


def _edge_selected(ev: Mapping[str, Any]) -> Translated | None:
    source, target = _str(ev.get("from_node")), _str(ev.get("to_node"))
    if not source or not target:
        return None
    data = {
        "from": source,
        "to": target,
        "label": _str(ev.get("label")),
        "condition": _str(ev.get("condition")),
        "selection_method": _str(ev.get("selection_method")),
    }
    return EventType.EDGE_SELECTED, _with_origin(data, ev), source


def _run_finished(ev: Mapping[str, Any]) -> Translated | None:
    default = "success" if ev.get("event") == "run_completed" else "fail"
    data: dict[str, Any] = {"status": _str(ev.get("status")) or default}
    if _str(ev.get("reason")):
        data["reason"] = _str(ev.get("reason"))
    return EventType.RUN_FINISHED, _with_origin(data, ev), None


def _warning(ev: Mapping[str, Any]) -> Translated | None:
    data = {"level": "warning", "message": _str(ev.get("message")), "origin": "kilroy"}
    return EventType.LOG, _with_origin(data, ev), _str(ev.get("node_id")) or None


def _heartbeat(ev: Mapping[str, Any]) -> Translated | None:
    node = _str(ev.get("node_id"))
    data = {k: v for k, v in ev.items() if k not in _ENVELOPE}
    return EventType.HEARTBEAT, _with_origin(data, ev), node or None


def _engine_event(ev: Mapping[str, Any]) -> Translated:
    name = ev.get("event")
    data: dict[str, Any] = {"kilroy_event": name if isinstance(name, str) else "unknown"}
    data.update({k: v for k, v in ev.items() if k not in _ENVELOPE})
    return EventType.ENGINE_EVENT, _with_origin(data, ev), _str(ev.get("node_id")) or None


def _with_origin(data: dict[str, Any], ev: Mapping[str, Any]) -> dict[str, Any]:
    for source, target in (("ts", "kilroy_ts"), ("id", "kilroy_id")):
        if ev.get(source) is not None:
            data[target] = ev[source]
    return data


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


_HANDLERS: dict[str, Callable[[Mapping[str, Any]], Translated | None]] = {
    "stage_attempt_start": _stage_started,
    "stage_attempt_end": _stage_completed,
    "retry_decision": _retry_decision,
    "edge_selected": _edge_selected,
    "run_completed": _run_finished,
    "run_failed": _run_finished,
    "warning": _warning,
    "stage_heartbeat": _heartbeat,
}
