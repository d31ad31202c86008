"""The ``fake`` fixture: a local fake of the cloud voice APIs (see voice_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from voice_support import fake_upstream


@pytest.fixture
def fake() -> Iterator[str]:
    with fake_upstream() as url:
        yield url
