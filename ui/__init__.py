"""``factoryos.ui``: the dashboard adapter (FastAPI). Imports the core only.

The dashboard itself arrives with its own issue; this package exists now so the
layer contracts in pyproject.toml cover it from the start.
"""
