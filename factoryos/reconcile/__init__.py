"""Level-based reconciliation of Products and Runs, as pure functions.

Each function takes a resource and what was observed about its world (its
product, its workloads, the stages folded from its events, its place in the
queue) and returns the actions to take and the status to write. The local
control plane (``factoryos.controlplane``) and the kopf operator are thin
drivers around them: read everything, call, act, write status once.

The names below are imported on first use (``factoryos.imports``): importing
one submodule, say ``factoryos.reconcile.product``, does not load the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
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

__getattr__ = lazy_attributes(
    __name__,
    {
        "workload_spec": "factoryos.reconcile.building",
        "set_condition": "factoryos.reconcile.conditions",
        "evaluation_spec": "factoryos.reconcile.evaluating",
        "ProductDecision": "factoryos.reconcile.product",
        "ProductObservation": "factoryos.reconcile.product",
        "reconcile_product": "factoryos.reconcile.product",
        "Admission": "factoryos.reconcile.queue",
        "admit": "factoryos.reconcile.queue",
        **dict.fromkeys(
            [
                "FINALIZER",
                "PRODUCT_LABEL",
                "RunDecision",
                "RunObservation",
                "StartEvaluation",
                "StartWorkload",
                "StopWorkload",
                "reconcile_run",
            ],
            "factoryos.reconcile.run",
        ),
    },
)
