"""``factoryos.ui``: the dashboard adapter (FastAPI). Imports the core only.

``create_app`` builds the app from its dependencies (the store, the runs
directory, the token, admission); ``sf up`` serves it next to the embedded
control plane and ``python -m factoryos.ui`` serves it on a cluster. Pages
are server-rendered Jinja2 with htmx; ``static/live.js`` keeps them live
over WebSockets. The same data is a JSON API under ``/api``.
"""

from factoryos.ui.app import Dashboard, create_app

__all__ = ["Dashboard", "create_app"]
