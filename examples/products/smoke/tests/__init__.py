"""Tests of the smoke service, run from the repository root with `python -m pytest -q`."""
