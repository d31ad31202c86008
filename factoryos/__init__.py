"""Factory OS: a local-first software factory.

The ``factoryos`` package is the domain core: resource models (the source of
truth for the CRDs), the event envelope, the Kilroy adapter, and the ports the
platform adapters implement. The adapters ``factoryos.cli``, ``factoryos.ui``
and ``factoryos.controller`` live in the top-level ``cli/``, ``ui/`` and
``controller/`` folders; they import the core and never each other.
"""

__version__ = "0.1.0"

API_GROUP = "factoryos.dev"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"
