"""The layer contracts cover every core module, and adapters resolve under factoryos.*."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {"cli", "ui", "controller"}


def _contract(name: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (found,) = [c for c in contracts if c["name"] == name]
    return dict(found)


def test_every_core_module_is_forbidden_from_importing_adapters() -> None:
    core = {
        f"factoryos.{m.name}"
        for m in pkgutil.iter_modules([str(ROOT / "factoryos")])
        if m.name not in ADAPTERS and not m.name.startswith("_")
    }
    listed = set(_contract("The core imports no adapter")["source_modules"])  # type: ignore[arg-type]
    assert core - listed == set(), "add new core modules to the import-linter contract"


def test_every_core_module_has_a_layer() -> None:
    """A new core package must be placed in the layers contract, or nothing orders it."""
    core = {
        m.name
        for m in pkgutil.iter_modules([str(ROOT / "factoryos")])
        if m.name not in ADAPTERS and not m.name.startswith("_")
    }
    layers = _contract(
        "The core is layered: drivers, launch, decisions and services, workloads, "
        "boundaries, contracts, base"
    )["layers"]
    placed = {
        name.strip()
        for layer in layers  # type: ignore[attr-defined]
        for name in layer.replace(":", "|").split("|")
    }
    assert core - placed == set(), "place new core modules in the layers contract"


def test_adapters_are_mutually_independent() -> None:
    modules = _contract("Adapters are independent of each other")["modules"]
    assert set(modules) == {f"factoryos.{a}" for a in ADAPTERS}  # type: ignore[arg-type]


def test_adapters_import_as_factoryos_subpackages_from_their_top_level_folders() -> None:
    for adapter in ADAPTERS:
        module = importlib.import_module(f"factoryos.{adapter}")
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent == ROOT / adapter / "factoryos" / adapter


def test_no_file_is_reachable_through_a_link() -> None:
    """Every file has one path: no symlink anywhere in the package's source roots."""
    roots = [ROOT / "factoryos", *(ROOT / a for a in ADAPTERS)]
    links = [p for root in roots for p in root.rglob("*") if p.is_symlink()]
    assert links == []


def test_the_contract_names_kilroys_logs_folder_as_kilroy_does() -> None:
    """The workload contract sits below the Kilroy adapter, so it spells the name itself."""
    from factoryos.kilroy.layout import LOGS_DIR as KILROY_LOGS_DIR
    from factoryos.workloads import LOGS_DIR

    assert LOGS_DIR == KILROY_LOGS_DIR
