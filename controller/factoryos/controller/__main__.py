"""``python -m factoryos.controller``: run the operator (the command of its Deployment).

Watches every namespace, or those in FACTORYOS_OPERATOR_NAMESPACES (comma
separated). With FACTORYOS_OPERATOR_PEERING (a ClusterKopfPeering's name, or a
KopfPeering's when namespaces are listed) several replicas can run: only the one
with the highest FACTORYOS_OPERATOR_PRIORITY acts, the others wait to take over.
Without it the operator runs standalone. SIGTERM stops it gracefully: kopf
finishes the passes under way.
"""

from __future__ import annotations

import os

import kopf

import factoryos.controller.handlers  # noqa: F401  (registers the handlers)


def main() -> None:
    namespaces = [n for n in os.environ.get("FACTORYOS_OPERATOR_NAMESPACES", "").split(",") if n]
    peering = os.environ.get("FACTORYOS_OPERATOR_PEERING") or None
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=peering is None,
        peering_name=peering,
        priority=int(os.environ.get("FACTORYOS_OPERATOR_PRIORITY") or 0),
        liveness_endpoint="http://0.0.0.0:8080/healthz",
    )


if __name__ == "__main__":
    main()
