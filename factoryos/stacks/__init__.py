"""Product stacks: the templates ``sf product add --template`` scaffolds a product from.

``catalog`` finds the stacks under ``templates/`` and reads each one's
``stack.yaml``; ``render`` turns a template tree into files with Jinja2;
``scaffold`` renders a stack into a new git repository (plus its holdout
folder, outside the repository) and commits it; ``read_manifest`` says what
Product spec registers it. The CLI's ``sf product add`` is the caller.
"""

from factoryos.stacks.catalog import Stack, list_stacks, load_stack
from factoryos.stacks.render import render_tree
from factoryos.stacks.scaffold import Manifest, Scaffold, read_manifest, scaffold

__all__ = [
    "Manifest",
    "Scaffold",
    "Stack",
    "list_stacks",
    "load_stack",
    "read_manifest",
    "render_tree",
    "scaffold",
]
