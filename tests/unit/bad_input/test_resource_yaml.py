"""``sf apply`` on generated bad Product and Run YAML: one line, a documented status, no write.

Each example starts from a valid Product or Run and breaks it: a value replaced
by one of the wrong type or out of range (huge strings and numbers included),
an unknown field, deep nesting, a key given twice, bytes that are not UTF-8.
Whatever it is, the parser and admission (what ``sf apply``, ``kubectl``-style
files and the dashboard go through) must refuse it with a ``FactoryError`` and
leave the store's version alone; through ``sf apply -f`` (fewer examples: each
builds the whole CLI) it must be refused the documented way
(``bad_input_support.refused_cleanly``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from bad_input_support import Home, refused_cleanly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryos.admission import admit
from factoryos.errors import FactoryError, ValidationFailedError
from factoryos.models import Product, load_resources

PRODUCT: dict[str, Any] = {
    "apiVersion": "factoryos.dev/v1alpha1",
    "kind": "Product",
    "metadata": {"name": "q", "labels": {"team": "a"}},
    "spec": {
        "repo": {"path": "/nonexistent/q"},
        "branch": "main",
        "pipeline": "pipeline.dot",
        "candidates": 2,
        "concurrency": 1,
        "verifiers": {"unit": [{"name": "t", "command": "true", "timeoutSeconds": 5}]},
        "acceptance": {"alpha": 0.05, "target": 0.9, "sided": "one-sided"},
        "engine": {"provider": "openai", "passEnv": ["A"], "credential": {"env": "K"}},
        "deploy": {"dryRun": True, "command": "true", "credentials": ["D"]},
    },
}
RUN: dict[str, Any] = {
    "apiVersion": "factoryos.dev/v1alpha1",
    "kind": "Run",
    "metadata": {"name": "r"},
    "spec": {
        "productRef": {"name": "p"},
        "goal": "g",
        "candidates": 1,
        "maxIterations": 1,
        "selection": {"trialsPerRound": 4},
        "desiredState": "Running",
    },
}

BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "-", "..", "/abs", "UPPER", "a" * 64, "x" * 200_000, "0" * 1000]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``node`` a value can be put (mapping keys and list items)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _nested(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


@st.composite
def broken_documents(draw: st.DrawFn) -> bytes:
    doc = copy.deepcopy(draw(st.sampled_from([PRODUCT, RUN])))
    how = draw(st.sampled_from(["value", "unknown", "deep", "duplicate", "bytes", "text"]))
    path = draw(st.sampled_from(_paths(doc)))
    if how == "value":
        _put(doc, path, draw(BAD_VALUES))
    elif how == "unknown":
        target = doc
        for step in path[:-1]:
            target = target[step]
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=8))] = draw(BAD_VALUES)
        else:
            doc["spec"]["unknownField"] = 1
    elif how == "deep":
        _put(doc, path, _nested(draw(st.integers(min_value=60, max_value=200)), "x"))
    text = yaml.safe_dump(doc, sort_keys=False, width=10**9)
    if how == "deep" and draw(st.booleans()):  # flow style, beyond what the dumper writes
        depth = draw(st.integers(min_value=60, max_value=5000))
        text += f"extra: {'[' * depth}{']' * depth}\n"
    if how == "duplicate":
        lines = text.splitlines(keepends=True)
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines.insert(index, lines[index])
        text = "".join(lines)
    data = text.encode()
    if how == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(data)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"]))
        data = data[:at] + junk + data[at:]
    if how == "text":
        data = draw(st.binary(max_size=200)) + data[: draw(st.integers(0, len(data)))]
    return data


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=broken_documents())
def test_the_parser_and_admission_refuse_bad_yaml_with_a_factory_error(
    home: Home, document: bytes
) -> None:
    before = home.store.version()
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError:
        return  # the CLI's edge refuses it (test_non_utf8_...); the parser takes text
    try:
        resources = load_resources(text, source="generated.yaml")
        products = [r for r in resources if isinstance(r, Product)]
        for resource in resources:
            admit(resource, home.store, None, pending=products)
    except FactoryError as exc:
        assert "\n" not in str(exc).strip() or isinstance(exc, ValidationFailedError), exc
    assert home.store.version() == before, "admission never writes"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=broken_documents())
def test_bad_resource_yaml_is_refused_in_one_line(home: Home, document: bytes) -> None:
    file = home.path.parent / "resource.yaml"
    file.write_bytes(document)
    before = home.store.version()
    outcome = home.sf(["apply", "-f", str(file)])
    refused_cleanly(outcome, before, home.store.version())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=broken_documents())
def test_bad_resource_yaml_on_stdin_is_refused_in_one_line(home: Home, document: bytes) -> None:
    before = home.store.version()
    outcome = home.sf(["apply", "-f", "-"], stdin=document)
    refused_cleanly(outcome, before, home.store.version())


def test_a_duplicate_key_is_refused_with_where_it_is(home: Home, tmp_path: Path) -> None:
    file = tmp_path / "dup.yaml"
    file.write_text(yaml.safe_dump(RUN, sort_keys=False) + "kind: Run\n")
    outcome = home.sf(["apply", "-f", str(file)])
    assert outcome.code == 2
    assert 'duplicate key "kind" at line' in outcome.err


def test_non_utf8_is_refused_with_the_byte(home: Home, tmp_path: Path) -> None:
    file = tmp_path / "latin1.yaml"
    file.write_bytes(yaml.safe_dump(RUN).encode() + b"# caf\xe9\n")
    outcome = home.sf(["apply", "-f", str(file)])
    assert outcome.code == 2 and "not UTF-8" in outcome.err and "\\xe9" in outcome.err
