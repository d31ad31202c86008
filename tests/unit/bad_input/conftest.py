"""The ``home`` fixture: one scratch factory home per module (see bad_input_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bad_input_support import Home, scratch_home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    with scratch_home(tmp_path_factory.mktemp("bad-input")) as made:
        yield made
