"""``DashboardEvents``: a run's events from the dashboard's API, for clients off the cluster.

On a cluster the runners post their events to the dashboard, which keeps a
gap-free copy per run; ``sf run logs`` and ``sf selftest --context`` read it
here, a page at a time (``GET /api/runs/NS/NAME/events?after=N``), with the
dashboard token. Connection problems and refusals are ``ClusterError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factoryos.errors import ClusterError

if TYPE_CHECKING:
    import httpx


class DashboardEvents:
    """The event API of one dashboard."""

    def __init__(self, url: str, token: str, client: httpx.Client | None = None) -> None:
        # httpx is imported here, not with the module: ``sf run logs`` reads local
        # runs without it, and importing it costs ``sf`` a tenth of a second.
        import httpx

        self.client = client or httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def raw(self, namespace: str, name: str, after: int = 0) -> list[dict[str, Any]]:
        """Every event of the run after sequence ``after``, as JSON objects, in order."""
        import httpx  # already loaded by __init__: a dictionary lookup

        found: list[dict[str, Any]] = []
        while True:
            try:
                response = self.client.get(
                    f"/api/runs/{namespace}/{name}/events", params={"after": after}
                )
            except httpx.HTTPError as exc:
                raise ClusterError(f"cannot reach the dashboard: {exc}") from None
            if response.status_code != 200:
                detail = response.text[:200]
                raise ClusterError(f"the dashboard answered {response.status_code}: {detail}")
            page = response.json()
            events: list[dict[str, Any]] = page["events"]
            found += events
            if events:
                after = int(events[-1]["sequence"])
            if not page["more"]:
                return found
