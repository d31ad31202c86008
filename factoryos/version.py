"""What this build of Factory OS is: its release and the API group/version of its resources.

``factoryos`` is a namespace package (PEP 420) whose portions are the core
(``factoryos/``) and the three adapters (``cli/factoryos/cli``,
``ui/factoryos/ui``, ``controller/factoryos/controller``; see
docs/architecture.md), so it has no ``__init__`` to hold these: every part
reads them from here.
"""

__version__ = "0.1.0"

API_GROUP = "factoryos.dev"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"
