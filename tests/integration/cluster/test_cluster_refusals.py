"""``make cluster-up`` on a machine that cannot run it says why in one line and exits 2.

The checks run through ``tools/cluster/up.sh --check``, which applies every
refusal of a real start and starts nothing: not root, and another containerd
owning the host's hard-coded paths (a process named ``containerd`` made here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UP = ROOT / "tools" / "cluster" / "up.sh"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the refusals are checked as root")


def check(*prefix: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, "bash", str(UP), "--check"], capture_output=True, text=True, timeout=60,
        check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_user_other_than_root_is_refused_in_one_line() -> None:
    # A copy nobody may read (pytest's own tmp folder is root's alone).
    readable = Path(tempfile.mkdtemp(prefix="factoryos-refusal-"))
    readable.chmod(0o755)
    copy = readable / "tools"
    shutil.copytree(ROOT / "tools", copy)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "bash", str(copy / "cluster" / "up.sh"), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(readable)},
    )  # fmt: skip
    shutil.rmtree(readable)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("cluster-up: needs root")


@pytest.fixture
def another_containerd(tmp_path: Path) -> Iterator[int]:
    """A process named containerd that is not the node's."""
    fake = tmp_path / "containerd"
    shutil.copy("/bin/sleep", fake)
    process = subprocess.Popen([str(fake), "60"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_another_containerd_on_the_host_is_refused_in_one_line(another_containerd: int) -> None:
    done = check()
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert f"another containerd (pid {another_containerd}" in done.stderr


def test_this_machine_passes_the_checks() -> None:
    done = check()
    assert done.returncode == 0, done.stderr
    assert "can run the single-node cluster" in done.stdout
