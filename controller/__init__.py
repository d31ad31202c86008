"""``factoryos.controller``: the kopf operator adapter. Imports the core only.

The operator arrives with its own issue; this package exists now so the layer
contracts in pyproject.toml cover it from the start.
"""
