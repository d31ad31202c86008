"""An object's follower runs its passes when the core asked, on wake-ups, and not for a stall.

``requeue.follow`` is driven here with stand-in passes, no kopf and no cluster:
each test runs it in an event loop for a fraction of a second and counts passes.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable

import kopf

from factoryos.controller.error_mapping import StalledError, translate
from factoryos.controller.requeue import Wakeups, follow, next_wait
from factoryos.controlplane import PassResult
from factoryos.errors import ClusterError, FactoryError, InvalidInputError

KEY = ("Run", "default", "r")


class Flag:
    """Stands in for kopf's ``stopped`` flag of an async daemon."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def wait(self, timeout: float | None = None) -> Flag:
        await self.event.wait()
        return self


class Passes:
    """A pass that records when it ran and answers with ``result`` (or raises it)."""

    def __init__(self, result: PassResult | FactoryError) -> None:
        self.result = result
        self.times: list[float] = []

    def __call__(self) -> PassResult:
        self.times.append(time.monotonic())
        if isinstance(self.result, FactoryError):
            raise self.result
        return self.result

    def gaps(self) -> list[float]:
        return [b - a for a, b in itertools.pairwise(self.times)]


def drive(
    passes: Passes,
    script: Callable[[Wakeups], Awaitable[None]],
    *,
    generation: Callable[[], int | None] = lambda: 1,
    answer: Callable[[FactoryError], kopf.TemporaryError | StalledError | None] = translate,
    resync: float = 10.0,
    wake_with_the_stop: bool = False,
) -> tuple[Wakeups, bool]:
    """Follow KEY while ``script`` runs, then stop the follower; and what ``follow`` said."""
    wakeups = Wakeups()
    unanswered: list[bool] = []

    async def main() -> None:
        stopped = Flag()
        task = asyncio.create_task(
            follow(
                wakeups, KEY, passes, stopped=stopped, generation=generation,
                answer=answer, resync=resync,
            )
        )  # fmt: skip
        await asyncio.sleep(0.05)
        await script(wakeups)
        if wake_with_the_stop:  # as kopf does when deletion begins: the event, then the stop
            wakeups.wake(KEY)
        stopped.event.set()
        unanswered.append(await asyncio.wait_for(task, 5))

    asyncio.run(main())
    return wakeups, unanswered[0]


def sleep(seconds: float) -> Callable[[Wakeups], Awaitable[None]]:
    async def script(_: Wakeups) -> None:
        await asyncio.sleep(seconds)

    return script


def test_the_core_s_requeue_time_is_honoured() -> None:
    passes = Passes(PassResult(requeue_after=0.1))
    drive(passes, sleep(0.55))
    assert 4 <= len(passes.times) <= 6
    assert all(0.09 <= gap < 0.3 for gap in passes.gaps()), passes.gaps()


def test_without_a_requeue_the_resync_applies_and_a_wake_up_cuts_it_short() -> None:
    passes = Passes(PassResult())

    async def script(wakeups: Wakeups) -> None:
        await asyncio.sleep(0.2)
        assert len(passes.times) == 1, "the resync (10 s) is far away"
        woken = threading.Thread(target=wakeups.wake, args=(KEY,))  # as a watch handler would
        woken.start()
        woken.join()
        await asyncio.sleep(0.2)

    drive(passes, script)
    assert len(passes.times) == 2
    assert next_wait(PassResult(), resync=30.0) == 30.0
    assert next_wait(PassResult(requeue_after=60.0), resync=30.0) == 30.0


def test_a_settled_or_gone_object_waits_for_news_only() -> None:
    assert next_wait(PassResult(settled=True, requeue_after=None), resync=30.0) is None
    assert next_wait(PassResult(gone=True), resync=30.0) is None


def test_a_stall_is_not_retried_until_the_generation_or_the_product_changes() -> None:
    passes = Passes(InvalidInputError("Job r-c0-1 is invalid"))
    recorded: list[str] = []
    generation = [1]

    def answer(exc: FactoryError) -> kopf.TemporaryError | StalledError | None:
        error = translate(exc)
        if isinstance(error, StalledError):
            recorded.append(error.reason)
        return error

    async def script(wakeups: Wakeups) -> None:
        for _ in range(5):  # its own status write, a Job event, ...: same generation
            wakeups.wake(KEY)
            await asyncio.sleep(0.02)
        assert len(passes.times) == 1
        generation[0] = 2  # the spec changed
        wakeups.wake(KEY)
        await asyncio.sleep(0.1)
        assert len(passes.times) == 2
        wakeups.wake(KEY, retry=True)  # its product's spec changed
        await asyncio.sleep(0.1)

    drive(passes, script, generation=lambda: generation[0], answer=answer)
    assert len(passes.times) == 3
    assert recorded == ["InvalidInput"] * 3


def test_a_temporary_error_is_retried_after_its_delay_doubling_while_it_lasts() -> None:
    passes = Passes(ClusterError("cannot reach the API server"))

    def answer(exc: FactoryError) -> kopf.TemporaryError | StalledError | None:
        return kopf.TemporaryError(str(exc), delay=0.05)

    drive(passes, sleep(0.5), answer=answer)
    gaps = passes.gaps()
    assert len(passes.times) == 4, gaps  # at 0, 0.05, 0.15, 0.35
    assert all(
        0.9 * want <= g < want + 0.1 for g, want in zip(gaps, (0.05, 0.1, 0.2), strict=True)
    ), gaps


def test_nothing_follows_an_object_without_a_follower() -> None:
    wakeups, unanswered = drive(Passes(PassResult()), sleep(0))
    assert wakeups.wake(KEY) is False, "the follower is gone once its daemon stopped"
    assert unanswered is False


def test_a_wake_up_that_came_with_the_stop_is_handed_back() -> None:
    passes = Passes(PassResult())
    _, unanswered = drive(passes, sleep(0), wake_with_the_stop=True)
    assert unanswered is True, "the caller reconciles once more (deletion began)"
    assert len(passes.times) == 1
