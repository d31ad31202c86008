"""``sf pipeline validate`` on mutated example pipelines: real Kilroy, one line per finding.

Each example breaks one of the repository's DOT files (a span cut out, DOT
punctuation put in, the file cut short, stray bytes that are not UTF-8) and runs
``sf pipeline validate`` in-process on it. Whatever Kilroy makes of it, ``sf``
exits 0, 1 or 2 as its help documents, prints one ``<file>: <severity>: ...`` or
``<file>:<line>:<col>: error: ...`` line per finding and a total, and never a
traceback.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kilroy_support import EXAMPLES

from factoryos.cli.app import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PIPELINES = sorted(p for p in (ROOT / "examples").rglob("*.dot"))
FINDING = r"^\S.*(: ok|: (error|warning): .+)$"


@st.composite
def broken(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(PIPELINES)).read_bytes()
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["cut", "insert", "truncate", "bytes"]))
    if how == "cut":
        return text[:at] + text[at + draw(st.integers(1, 120)) :]
    if how == "insert":
        bit = draw(st.sampled_from([b"{", b"}", b"[", b"]", b"=", b";", b'"', b"->", b"\n"]))
        return text[:at] + bit + text[at:]
    if how == "truncate":
        return text[:at]
    return text[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\x80"])) + text[at:]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=broken())
def test_a_broken_pipeline_gets_findings_and_a_documented_status(
    source: bytes, kilroy_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("dot") / "p.dot"
    path.write_bytes(source)
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        patch.setenv("FACTORYOS_KILROY", str(kilroy_bin))
        code = main(["pipeline", "validate", str(path)])
    said = out.getvalue() + err.getvalue()
    assert "Traceback" not in said and code in {0, 1, 2}, (code, said)
    *findings, total = out.getvalue().splitlines()
    assert total.startswith("1 file(s): "), said
    assert findings and all(re.match(FINDING, f) for f in findings), said
    assert all(str(path) in f for f in findings), said


def test_the_examples_are_there() -> None:
    assert len(PIPELINES) >= 5 and EXAMPLES.is_dir()
