"""The message of a Kubernetes API server's ``Status`` answer, for our error texts.

The cluster adapters (``store.apiserver`` and ``launch.jobs``) translate the
client's ``ApiException`` into our own errors at their edge; both word them
from the message the API server put in its answer. Plain text in, plain text
out: no client library here, so any layer may use it.
"""

from __future__ import annotations

import json


def status_message(body: str | bytes | None, reason: str | None) -> str:
    """The ``message`` of a ``Status`` body; the HTTP reason when there is none."""
    try:
        message = json.loads(body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or reason)
