"""``python -m factoryos.controller``: run the operator (the command of its Deployment).

Watches every namespace, or those in FACTORYOS_OPERATOR_NAMESPACES (comma
separated). SIGTERM stops it gracefully: kopf finishes the passes under way.
"""

from __future__ import annotations

import os

import kopf

import factoryos.controller.handlers  # noqa: F401  (registers the handlers)


def main() -> None:
    namespaces = [n for n in os.environ.get("FACTORYOS_OPERATOR_NAMESPACES", "").split(",") if n]
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=os.environ.get("FACTORYOS_OPERATOR_PEERING", "") == "",
        liveness_endpoint="http://0.0.0.0:8080/healthz",
    )


if __name__ == "__main__":
    main()
