"""Level-based reconciliation of Products and Runs, as pure functions.

Each function takes a resource and what was observed about its world (its
product, its workloads, the stages folded from its events, its place in the
queue) and returns the actions to take and the status to write. The local
control plane (``factoryos.controlplane``) and the kopf operator are thin
drivers around them: read everything, call, act, write status once.
"""

from factoryos.reconcile.building import workload_spec
from factoryos.reconcile.conditions import set_condition
from factoryos.reconcile.evaluating import evaluation_spec
from factoryos.reconcile.product import ProductDecision, ProductObservation, reconcile_product
from factoryos.reconcile.queue import Admission, admit
from factoryos.reconcile.run import (
    FINALIZER,
    PRODUCT_LABEL,
    RunDecision,
    RunObservation,
    StartEvaluation,
    StartWorkload,
    StopWorkload,
    reconcile_run,
)

__all__ = [
    "FINALIZER",
    "PRODUCT_LABEL",
    "Admission",
    "ProductDecision",
    "ProductObservation",
    "RunDecision",
    "RunObservation",
    "StartEvaluation",
    "StartWorkload",
    "StopWorkload",
    "admit",
    "evaluation_spec",
    "reconcile_product",
    "reconcile_run",
    "set_condition",
    "workload_spec",
]
