"""The JSON Schemas generated from the models (``make schemas``), shipped as package data.

``factoryos.events.validate`` reads ``event.schema.json`` from here; a unit
test fails when a file drifts from its model.
"""
