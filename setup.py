"""The package mapping of the distribution; everything else is in pyproject.toml.

``factoryos`` is one namespace package with four source roots: the core in
``factoryos/`` and each adapter in its top-level folder, under the path its
module name spells (``cli/factoryos/cli/app.py`` is ``factoryos.cli.app``).
This maps each root's packages to its folder, so the wheel holds one
``factoryos`` tree and no bare ``cli`` or ``ui`` package; in a clone, ``make
venv`` puts the same four roots on the virtualenv's path. See
docs/decisions.md ("Adapters are namespace portions").
"""

from pathlib import Path

from setuptools import setup

ROOTS = (".", "cli", "ui", "controller")
#: Product code the stacks scaffold (package data, never part of factoryos).
STACK_TEMPLATES = Path("factoryos", "stacks", "templates")

packages = ["factoryos"]  # the namespace: no __init__.py, one folder under each root
package_dir: dict[str, str] = {}
for root in ROOTS:
    for init in sorted(Path(root, "factoryos").rglob("__init__.py")):
        folder = init.parent.relative_to(root)
        if folder.is_relative_to(STACK_TEMPLATES):
            continue
        name = ".".join(folder.parts)
        packages.append(name)
        if root != ".":
            package_dir[name] = str(init.parent)

setup(packages=packages, package_dir=package_dir)
