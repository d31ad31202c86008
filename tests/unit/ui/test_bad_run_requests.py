"""``POST /api/runs`` with generated bad bodies: a documented status, one line, nothing stored.

Bodies start from a valid request and get a field of the wrong type, out of
range or huge, an unknown field, a missing one, or are not JSON (or not UTF-8)
at all. The answer is 201 or one of the statuses the OpenAPI document lists for
the route, always with ``{"detail": "<one line>"}`` on refusal, and the store's
version is unchanged unless a run was created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_support import BEARER, Site, make_site

VALID: dict[str, Any] = {"product": "p", "goal": "g", "candidates": 1, "namespace": "default"}
FIELDS = [*VALID, "name", "pipeline"]
BAD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["", "UPPER", "-x", "a" * 64, "x" * 100_000, "/abs", "../up", "a\x00b"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    made = make_site(tmp_path_factory.mktemp("site"))
    with made.client:
        yield made
    made.store.close()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    body = dict(VALID)
    how = draw(st.sampled_from(["value", "value", "unknown", "missing", "raw"]))
    if how == "value":
        body[draw(st.sampled_from(FIELDS))] = draw(BAD)
    elif how == "unknown":
        body[draw(st.text(min_size=1, max_size=8))] = draw(BAD)
    elif how == "missing":
        del body[draw(st.sampled_from(sorted(body)))]
    else:
        return draw(st.binary(max_size=40)) + draw(st.sampled_from([b"", b"\xff", b"{"]))
    return json.dumps(body).encode()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_a_bad_run_request_is_refused_as_documented(site: Site, body: bytes) -> None:
    documented = site.client.get("/api/openapi.json", headers=BEARER).json()
    statuses = {int(s) for s in documented["paths"]["/api/runs"]["post"]["responses"]}
    before = site.store.version()
    response = site.client.post(
        "/api/runs", content=body, headers={**BEARER, "Content-Type": "application/json"}
    )
    assert response.status_code in statuses, (response.status_code, response.text)
    if response.status_code == 201:
        return
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail, detail
    assert site.store.version() == before


def test_the_refusal_names_the_problem(site: Site) -> None:
    response = site.client.post("/api/runs", json={**VALID, "goal": ""}, headers=BEARER)
    assert response.status_code == 422
    assert response.json() == {"detail": "invalid request: goal: must not be empty"}


def test_a_huge_k_is_refused_before_anything_is_stored(site: Site) -> None:
    before = site.store.version()
    response = site.client.post("/api/runs", json={**VALID, "candidates": 10**12}, headers=BEARER)
    assert response.status_code == 422
    assert response.json()["detail"] == "invalid request: candidates: must be between 1 and 100"
    assert site.store.version() == before
