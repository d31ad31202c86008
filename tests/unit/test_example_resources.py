"""The example resources in examples/resources load as valid Products and Runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.models import Product, Run, load_resources

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "resources").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    resources = load_resources(path.read_text(), source=path.name)
    assert resources
    assert {type(r) for r in resources} <= {Product, Run}


def test_the_smoke_example_declares_a_product_and_its_run() -> None:
    (product, run) = load_resources((EXAMPLES[0]).read_text())
    assert isinstance(product, Product)
    assert isinstance(run, Run)
    assert run.spec.product_ref.name == product.metadata.name
    assert product.spec.acceptance.target == 0.98
