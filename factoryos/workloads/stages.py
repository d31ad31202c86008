"""Stage progress folded from a run's event log, and a runner's compact progress report.

The runner never writes status; the controller reads the events each runner
appended and folds them into the stages table of Run status with
``StageFold``. The fold is pure and resumable: feed it events as they arrive
(``feed``), read the table any time (``stages``).

On a cluster the log lives on the run's volume, out of the operator's reach, so
each runner keeps a small child object up to date, as Argo Workflows'
executors keep WorkflowTaskResults: the ConfigMap ``<workload>-progress`` that
the launcher created for it, with ``stages.json`` (the same fold over its own
events, at most one write a second) and, at the end, ``result.json``
(``ProgressReporter``). The operator reads them back
(``KubeJobLauncher.stages``). Reporting never fails the run: a write that does
not go through is printed and the next one carries it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from factoryos.events import Event, EventType
from factoryos.models import StageState, StageStatus

#: Kilroy's stage outcome -> stage state.
_OUTCOMES = {
    "success": StageState.SUCCEEDED,
    "partial_success": StageState.SUCCEEDED,
    "skipped": StageState.SKIPPED,
    "fail": StageState.FAILED,
    "failed": StageState.FAILED,
}


class StageFold:
    """The stages table of one run, built from its events in sequence order."""

    def __init__(self) -> None:
        self._stages: dict[tuple[int, str], StageStatus] = {}
        #: Candidates whose runner was asked to stop (until they start again).
        self._stopping: set[int] = set()
        #: The sequence of the last event folded in.
        self.sequence = 0
        #: When the last event was written (a heartbeat counts).
        self.last_event_time: datetime | None = None

    def feed(self, events: Iterable[Event]) -> None:
        """Fold in events with a sequence above the last one seen."""
        for event in events:
            if event.sequence <= self.sequence:
                continue
            self.sequence = event.sequence
            self.last_event_time = event.time
            self._fold(event)

    def stages(self) -> list[StageStatus]:
        """Every stage seen, by candidate, in the order they first started."""
        return [s.model_copy() for s in self._stages.values()]

    def _fold(self, event: Event) -> None:
        data = event.data
        node = event.subject or data.get("node_id")
        if not isinstance(node, str) or not node:
            candidate = _int(data.get("candidate"))
            if event.type == EventType.RUN_STOP_REQUESTED:
                self._stopping.add(candidate)
            elif event.type in {EventType.RUN_STARTED, EventType.RUN_RESUMED}:
                self._stopping.discard(candidate)
            elif event.type == EventType.RUN_FINISHED:
                self._settle_running(candidate, event)
            return
        key = (_int(data.get("candidate")), node)
        stage = self._stages.get(key) or StageStatus(candidate=key[0], name=node)
        if event.type == EventType.STAGE_STARTED:
            stage.status = StageState.RUNNING
            stage.attempt = max(1, _int(data.get("attempt"), 1))
            stage.max_attempts = _positive(data.get("max"))
            stage.start_time = event.time
            stage.completion_time = None
            stage.failure_reason = None
        elif event.type == EventType.STAGE_RETRYING:
            stage.status = StageState.RETRYING
            if isinstance(data.get("reason"), str):
                stage.failure_reason = data["reason"]
        elif event.type == EventType.STAGE_COMPLETED:
            stage.status = _OUTCOMES.get(str(data.get("status")), StageState.FAILED)
            if stage.status is StageState.FAILED and key[0] in self._stopping:
                stage.status = StageState.PENDING  # interrupted by a stop; resume reruns it
            stage.completion_time = event.time
            reason = data.get("failure_reason")
            stage.failure_reason = reason if isinstance(reason, str) and reason else None
        else:
            return
        self._stages[key] = stage

    def _settle_running(self, candidate: int, event: Event) -> None:
        """A run that ends (or is stopped) leaves no stage of it Running."""
        if event.type != EventType.RUN_FINISHED:
            return
        for (index, _name), stage in self._stages.items():
            if index == candidate and stage.status in {StageState.RUNNING, StageState.RETRYING}:
                stage.status = (
                    StageState.PENDING if event.data.get("stopped") else StageState.FAILED
                )
                if stage.status is StageState.FAILED:
                    stage.completion_time = event.time
                    stage.failure_reason = stage.failure_reason or _reason(event.data)


def _reason(data: dict[str, Any]) -> str | None:
    reason = data.get("reason")
    return reason if isinstance(reason, str) and reason else None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 1 else None


#: Environment variables the runner Job sets for reporting.
PROGRESS_ENV = "FACTORYOS_PROGRESS_CONFIGMAP"
NAMESPACE_ENV = "FACTORYOS_NAMESPACE"
STAGES_KEY, RESULT_KEY = "stages.json", "result.json"
#: An evaluation workload's report (without its trials: a ConfigMap holds 1 MiB at most).
EVALUATION_KEY = "evaluation.json"


def progress_name(workload: str) -> str:
    """The ConfigMap a workload reports into."""
    return f"{workload}-progress"


class ProgressSink(Protocol):
    def write(self, data: dict[str, str]) -> None: ...


class ProgressReporter:
    """Folds the runner's events into a stage table and writes it, throttled: at most one
    write per ``min_interval``, and a change held back by the throttle is written when the
    interval ends (a stage that starts right after another shows as running while it
    runs, not only when the next event comes)."""

    def __init__(
        self,
        sink: ProgressSink,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._fold = StageFold()
        self._interval = min_interval
        self._clock = clock
        self._last = float("-inf")
        self._dirty = False
        self._lock = threading.Lock()
        self._pending: threading.Timer | None = None

    def on_event(self, event: Event) -> None:
        with self._lock:
            before = self._fold.stages()
            self._fold.feed([event])
            self._dirty = self._dirty or self._fold.stages() != before
            if not self._dirty:
                return
            wait = self._interval - (self._clock() - self._last)
            if wait <= 0:
                self._flush({})
            elif self._pending is None:
                self._pending = threading.Timer(wait, self._flush_pending)
                self._pending.daemon = True
                self._pending.start()

    def finish(self, result: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        """The last write: the final stage table, the workload's result and ``extra``."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            self._flush({RESULT_KEY: json.dumps(result), **(extra or {})})

    def _flush_pending(self) -> None:
        with self._lock:
            self._pending = None
            if self._dirty:
                self._flush({})

    def _flush(self, extra: dict[str, str]) -> None:
        stages = [s.model_dump(mode="json", exclude_none=True) for s in self._fold.stages()]
        try:
            self._sink.write({STAGES_KEY: json.dumps(stages), **extra})
        except Exception as exc:
            print(f"runner: could not report progress: {exc}", file=sys.stderr, flush=True)
            return
        self._last, self._dirty = self._clock(), False
