"""``EventType``: the kinds of run event, apart from the envelope's model.

Whoever only names event kinds (the Kilroy translation, the runner before Kilroy
has started, ``sf pipeline run``'s live output) imports this module and not the
pydantic envelope (``envelope`` re-exports it), so ``sf pipeline run`` builds
the envelope's model while Kilroy starts rather than before.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every event type Factory OS emits. Consumers must ignore types they do not know."""

    RUN_STARTED = "dev.factoryos.run.started"
    RUN_RESUMED = "dev.factoryos.run.resumed"
    RUN_STOP_REQUESTED = "dev.factoryos.run.stop_requested"
    RUN_FINISHED = "dev.factoryos.run.finished"
    STAGE_STARTED = "dev.factoryos.stage.started"
    STAGE_COMPLETED = "dev.factoryos.stage.completed"
    STAGE_RETRYING = "dev.factoryos.stage.retrying"
    EDGE_SELECTED = "dev.factoryos.edge.selected"
    CHECKPOINT_SAVED = "dev.factoryos.checkpoint.saved"
    LOG = "dev.factoryos.log"
    HEARTBEAT = "dev.factoryos.heartbeat"
    CANDIDATE_STARTED = "dev.factoryos.candidate.started"
    CANDIDATE_FINISHED = "dev.factoryos.candidate.finished"
    VERIFIER_STARTED = "dev.factoryos.verifier.started"
    VERIFIER_FINISHED = "dev.factoryos.verifier.finished"
    EVAL_TRIAL = "dev.factoryos.eval.trial"
    EVAL_ROUND = "dev.factoryos.eval.round"
    GATE_DECIDED = "dev.factoryos.gate.decided"
    ENGINE_EVENT = "dev.factoryos.engine.event"
