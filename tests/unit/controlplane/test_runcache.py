"""The loop's RunCache holds the newest version of each Run, indexed by product."""

from __future__ import annotations

from factoryos.controlplane.runcache import RunCache
from factoryos.models import Run, parse_as


def run(name: str, product: str = "p", version: str | None = "1", goal: str = "g") -> Run:
    meta = {"name": name, "resourceVersion": version}
    spec = {"productRef": {"name": product}, "goal": goal}
    return parse_as(Run, {"metadata": meta, "spec": spec})


def names(runs: list[Run]) -> list[str]:
    return [r.metadata.name for r in runs]


def test_runs_are_found_by_their_product_in_name_order() -> None:
    cache = RunCache()
    for r in (run("b"), run("a"), run("c", product="q")):
        cache.seen(r)
    assert names(cache.of_product("default", "p")) == ["a", "b"]
    assert names(cache.of_product("default", "q")) == ["c"]
    assert cache.of_product("other", "p") == [] and len(cache) == 3


def test_a_newer_version_replaces_and_an_older_one_is_ignored() -> None:
    cache = RunCache()
    cache.seen(run("a", version="5", goal="first"))
    replaced = cache.seen(run("a", version="7", goal="second"))
    assert replaced is not None and replaced.spec.goal == "first"
    cache.seen(run("a", version="6", goal="late watch event"))  # arrives after our write
    held = cache.get("default", "a")
    assert held is not None and held.spec.goal == "second"
    assert len(cache.of_product("default", "p")) == 1


def test_versions_that_are_not_numbers_take_the_newest_arrival() -> None:
    cache = RunCache()
    cache.seen(run("a", version="x9", goal="first"))
    cache.seen(run("a", version="x1", goal="second"))
    held = cache.get("default", "a")
    assert held is not None and held.spec.goal == "second"


def test_a_run_moved_to_another_product_leaves_the_first_ones_index() -> None:
    cache = RunCache()
    cache.seen(run("a", version="1"))
    cache.seen(run("a", product="q", version="2"))
    assert cache.of_product("default", "p") == []
    assert names(cache.of_product("default", "q")) == ["a"]


def test_forget_drops_the_run_and_says_what_was_held() -> None:
    cache = RunCache()
    cache.seen(run("a"))
    forgotten = cache.forget("default", "a")
    assert forgotten is not None and forgotten.metadata.name == "a"
    assert cache.forget("default", "a") is None
    assert cache.get("default", "a") is None and cache.of_product("default", "p") == []


def test_reset_holds_exactly_the_listed_runs() -> None:
    cache = RunCache()
    cache.seen(run("gone"))
    cache.reset([run("a"), run("b", product="q")])
    assert cache.get("default", "gone") is None
    assert names(cache.of_product("default", "p")) == ["a"] and len(cache) == 2
