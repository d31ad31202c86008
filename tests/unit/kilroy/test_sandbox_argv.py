"""``Sandbox``: the bwrap command line a sandboxed Kilroy gets, and ``probe``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from factoryos.kilroy.sandbox import Sandbox, _child_pid, probe

BWRAP = Path("/usr/bin/bwrap")


def mounts(argv: list[str]) -> list[tuple[str, str, str]]:
    """The (option, source, destination) mounts of a bwrap command line, in order."""
    found = []
    for i, arg in enumerate(argv):
        if arg in {"--ro-bind", "--bind"}:
            found.append((arg, argv[i + 1], argv[i + 2]))
    return found


def test_kilroy_runs_as_pid_1_of_its_own_namespaces_without_capabilities() -> None:
    argv = Sandbox(BWRAP).argv(["kilroy", "attractor", "run"], cwd=Path("/c0"), info_fd=7)
    assert argv[0] == str(BWRAP)
    for option in ("--unshare-pid", "--as-pid-1", "--new-session", "--unshare-ipc"):
        assert option in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--proc") + 1] == "/proc" and argv[argv.index("--tmpfs") + 1] == "/tmp"
    assert argv[argv.index("--info-fd") + 1] == "7"
    assert argv[-5:] == ["/c0", "--", "kilroy", "attractor", "run"]
    assert "--unshare-net" not in argv, "agents reach their model endpoints"


def test_only_what_is_named_is_mounted_and_only_the_candidate_is_writable() -> None:
    sandbox = Sandbox(
        BWRAP, read_only=(Path("/usr"), Path("/opt/tools")), writable=(Path("/h/runs/r/c0"),)
    )
    assert mounts(sandbox.argv(["true"], cwd=Path("/"))) == [
        ("--ro-bind", "/usr", "/usr"),
        ("--ro-bind", "/opt/tools", "/opt/tools"),
        ("--bind", "/h/runs/r/c0", "/h/runs/r/c0"),
    ]


def test_mounts_go_shallowest_first_so_inner_ones_win() -> None:
    sandbox = Sandbox(
        BWRAP,
        read_only=(Path("/a/b/c/tool"), Path("/a")),
        writable=(Path("/a/b"),),
        private_files=((Path("/a/b/logs/run.pid"), Path("/a/b/.sandbox/run.pid")),),
    )
    assert mounts(sandbox.argv(["true"], cwd=Path("/"))) == [
        ("--ro-bind", "/a", "/a"),
        ("--bind", "/a/b", "/a/b"),
        ("--ro-bind", "/a/b/c/tool", "/a/b/c/tool"),
        ("--bind", "/a/b/.sandbox/run.pid", "/a/b/logs/run.pid"),
    ]


def test_the_hosts_merged_usr_links_stay_links(tmp_path: Path) -> None:
    sandbox = Sandbox.on_host(BWRAP, read_only=[tmp_path])
    assert Path("/usr") in sandbox.read_only and tmp_path in sandbox.read_only
    if Path("/bin").is_symlink():
        argv = sandbox.argv(["true"], cwd=Path("/"))
        at = argv.index("/bin")
        assert argv[at - 2] == "--symlink" and argv[at - 1] == str(Path("/bin").readlink())


def test_bwraps_report_gives_kilroys_host_pid() -> None:
    read, write = os.pipe()
    os.write(write, json.dumps({"child-pid": 4242, "pid-namespace": 1}, indent=4).encode())
    assert _child_pid(read) == 4242  # the sandbox may hold the pipe open: no EOF needed
    os.close(write)
    os.close(read)
    read, write = os.pipe()
    os.close(write)  # bwrap failed before it made the namespaces
    assert _child_pid(read) is None
    os.close(read)


def test_the_probe_says_why_there_is_no_sandbox(tmp_path: Path) -> None:
    missing = probe(None)
    assert not missing.isolated and missing.reason == "IsolationUnavailable"
    assert "apt-get install bubblewrap" in missing.message
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    refused = probe(fake)
    assert not refused.isolated and refused.reason == "IsolationUnavailable"
    assert refused.message.endswith("No permissions to create new namespace")
    works = tmp_path / "works"
    works.write_text("#!/bin/sh\nexit 0\n")
    works.chmod(0o755)
    assert probe(works).isolated and probe(works).reason == "Sandboxed"


def test_under_root_kilroy_is_an_ordinary_user_of_its_own_user_namespace() -> None:
    argv = Sandbox(BWRAP, uid=1000).argv(["true"], cwd=Path("/"))
    at = argv.index("--unshare-user")
    assert argv[at + 1 : at + 5] == ["--uid", "1000", "--gid", "1000"]
    assert "--unshare-user" not in Sandbox(BWRAP).argv(["true"], cwd=Path("/"))
    assert Sandbox.on_host(BWRAP).uid == (1000 if os.geteuid() == 0 else None)


def test_the_hosts_password_hashes_are_shown_empty() -> None:
    argv = Sandbox(BWRAP, read_only=(Path("/etc"),), masked=(Path("/etc/shadow"),)).argv(
        ["true"], cwd=Path("/")
    )
    assert mounts(argv)[-1] == ("--ro-bind", "/dev/null", "/etc/shadow"), "over /etc, not under"
    if Path("/etc/shadow").exists():
        assert Path("/etc/shadow") in Sandbox.on_host(BWRAP).masked
