"""The chaos suite: a real embedded factory survives each fault, and says what happened.

Short here (`make test`, about 30 s), full with `make chaos` (FACTORYOS_CHAOS=full, seed
from FACTORYOS_CHAOS_SEED). Each fault of ``chaos_faults.FAULTS`` is played against runs
of its own, then judged (``chaos_verdicts``); the table is printed and written to
``build/chaos/``. As root, FACTORYOS_HOME is a 128 MiB tmpfs made for the session, so its
disk can fill up; elsewhere that fault is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from chaos_faults import GROUPS, RUNS_PER_GROUP, Fault, Injection
from chaos_session import PRODUCT, Session, budget_and_seed, product_repo
from chaos_verdicts import Row, finished, judge, table
from factory_support import ROOT, Factory, free_port, home_processes, wait_for

#: The short session takes about 30 s: not in `make test-fast`.
pytestmark = pytest.mark.slow

HOME_SIZE = "128m"


@pytest.fixture
def session(factory_env: dict[str, str], tmp_path: Path) -> Iterator[Session]:
    budget, seed = budget_and_seed(os.environ)
    home = tmp_path / "home"
    home.mkdir()
    no_small_fs = _mount_small_fs(home)
    # Its pipelines write marks outside their candidates: no sandbox (FACTORYOS_SANDBOX=0).
    env = {**factory_env, "FACTORYOS_HOME": str(home), "PYTHONUNBUFFERED": "1",
           "FACTORYOS_SANDBOX": "0"}  # fmt: skip
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    factory = Factory(env, tmp_path)
    try:
        yield Session(factory, budget, seed, no_small_fs, port=free_port())
    finally:
        factory.close()
        if no_small_fs is None:
            wait_for(lambda: not home_processes(home), timeout=30, what="the home to be idle")
            subprocess.run(["umount", str(home)], check=True)


def _mount_small_fs(home: Path) -> str | None:
    """Mount a small tmpfs on ``home``; None when done, else why it cannot be."""
    if os.geteuid() != 0:
        return "not root: no small file system can be mounted for FACTORYOS_HOME"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={HOME_SIZE},mode=0700", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs refused: {done.stderr.strip()}"
    return None


def test_the_factory_survives_each_fault(session: Session) -> None:
    s, budget = session, session.budget
    repo = product_repo(s.factory, budget)
    concurrency = str(RUNS_PER_GROUP * budget.runs + 1)
    s.factory.sf("product", "add", PRODUCT, "--repo", str(repo), "--concurrency", concurrency)
    s.factory.up(dashboard=True, port=s.port)
    rows: list[Row] = []
    for group in GROUPS:
        rows += _play(s, group)
    s.factory.down(signal.SIGINT)
    left = home_processes(s.factory.home)

    text = table(rows, f"chaos session: {budget.name}, seed {s.seed}") + (
        f"\n\nafter `sf up` stopped: {len(left)} process(es) of the home left {left or ''}"
    )
    out = ROOT / "build" / "chaos" / f"chaos-{budget.name}-seed{s.seed}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    shutil.copy(s.factory.root / "sf-up.log", out.with_suffix(".sf-up.log"))
    print("\n" + text)
    assert all(row.ok for row in rows), text
    assert left == [], text


def _play(s: Session, group: list[Fault]) -> list[Row]:
    """Play a group's faults at once, then judge each once all of them are over."""
    began = time.monotonic()
    playing = [f for f in group if f.skip(s) is None]
    runs = {f.name: s.start_runs(f.slug) for f in playing}
    with ThreadPoolExecutor(max_workers=len(group)) as pool:
        futures = {f.name: pool.submit(f.play, s, s.rng(f.name), runs[f.name]) for f in playing}
    played: dict[str, Injection | AssertionError] = {}
    for name, future in futures.items():
        try:
            played[name] = future.result()
        except AssertionError as exc:  # the fault could not be played as planned: say why
            played[name] = exc
    every = [r for f in playing for r in runs[f.name]]
    every += [r for i in played.values() if isinstance(i, Injection) for r in i.runs]
    for run in every:  # a fault that was not played must not leave its runs waiting
        s.release(run)
    # Strays are counted once every run of the group is over (they share the home).
    finished(s, every)
    rows = []
    for fault in group:
        reason = fault.skip(s)
        if reason is not None:
            rows.append(Row.skip(fault.name, reason))
            continue
        injection = played[fault.name]
        if not isinstance(injection, Injection):
            rows.append(Row(fault.name, message=f"not played: {injection}", ok=False))
            continue
        rows.append(judge(s, fault.name, injection))
        rows[-1].seconds = f"{time.monotonic() - began:.1f}"
    return rows
