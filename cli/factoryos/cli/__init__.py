"""``factoryos.cli``: the ``sf`` command-line adapter (Typer). Imports the core only."""
