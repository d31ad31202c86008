"""Fixtures for the product use cases: a LocalStore, its admission, a product repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factoryos.admission import admit
from factoryos.models import Product
from factoryos.products import AdmitProduct
from factoryos.store import LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "home" / "factoryos.db")


@pytest.fixture
def admit_here(store: LocalStore) -> AdmitProduct:
    """The local admission checks (the repository and branch), without a pipeline check."""

    def check(product: Product) -> None:
        admit(product, store)

    return check


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with ``pipeline.dot`` committed on ``main``."""
    path = tmp_path / "app"
    path.mkdir()
    (path / "pipeline.dot").write_text("digraph p { start [shape=Mdiamond] }\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@x.invalid", *args],
            check=True,
            capture_output=True,
        )
    return path
