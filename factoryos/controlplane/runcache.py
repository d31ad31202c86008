"""``RunCache``: the embedded loop's copy of every Run, newest version of each, by product.

The local loop (``LocalControlPlane``) fills it from the store's watch (and a full
list on resync) and the ``Reconciler`` feeds it each Run it reads or writes, so it
is never older than the store was at the loop's last look or than our own last
write. The passes that need a product's runs (the concurrency queue of a waiting
run, a product's active runs) read them here instead of listing and parsing the
whole namespace each time: with N runs applied at once that was N passes of N
parses each.

A version never goes back: a watch event that arrives after our own newer write
of the same Run is ignored (a resourceVersion is compared as a number when both
are numbers, as the ``LocalStore``'s are; otherwise the newer arrival wins).
"""

from __future__ import annotations

from collections.abc import Iterable

from factoryos.models import Run

Key = tuple[str, str]  # (namespace, name)


class RunCache:
    """The newest Run seen under each (namespace, name), indexed by product."""

    def __init__(self) -> None:
        self._runs: dict[Key, Run] = {}
        self._by_product: dict[tuple[str, str], dict[str, Run]] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def reset(self, runs: Iterable[Run]) -> None:
        """Forget everything, then hold ``runs`` (a full list of the store)."""
        self._runs.clear()
        self._by_product.clear()
        for run in runs:
            self.seen(run)

    def get(self, namespace: str, name: str) -> Run | None:
        return self._runs.get((namespace, name))

    def seen(self, run: Run) -> Run | None:
        """Hold ``run`` unless a newer version of it is held; the version it replaced."""
        key = (run.metadata.namespace, run.metadata.name)
        held = self._runs.get(key)
        if held is not None and _older(run.metadata.resource_version, held):
            return held
        if held is not None:
            self._drop(key, held)
        self._runs[key] = run
        product = (key[0], run.spec.product_ref.name)
        self._by_product.setdefault(product, {})[key[1]] = run
        return held

    def known(self, run: Run) -> bool:
        """Whether this version of ``run``, or a newer one, is held already (the watch
        bringing back a write of our own, or a version a pass has read since)."""
        held = self._runs.get((run.metadata.namespace, run.metadata.name))
        version = run.metadata.resource_version
        if held is None or version is None:
            return False
        return version == held.metadata.resource_version or _older(version, held)

    def forget(self, namespace: str, name: str) -> Run | None:
        """Drop the run (it was deleted); the version that was held."""
        held = self._runs.pop((namespace, name), None)
        if held is not None:
            self._drop((namespace, name), held)
        return held

    def of_product(self, namespace: str, product: str) -> list[Run]:
        """The runs of ``product`` in ``namespace``, by name."""
        found = self._by_product.get((namespace, product), {})
        return [found[name] for name in sorted(found)]

    def _drop(self, key: Key, held: Run) -> None:
        product = (key[0], held.spec.product_ref.name)
        runs = self._by_product.get(product)
        if runs is not None:
            runs.pop(key[1], None)
            if not runs:
                del self._by_product[product]


def _older(version: str | None, held: Run) -> bool:
    """Whether ``version`` is older than the held run's (numbers compared as numbers)."""
    mine = held.metadata.resource_version
    if version is None or mine is None or not (version.isdigit() and mine.isdigit()):
        return False
    return int(version) < int(mine)
