"""The factory git service with real git clients against real server processes.

Two servers, started once for the module on free loopback ports: the standalone
remote (``python -m factoryos.ui.git_service``, one token) and the dashboard
(``python -m factoryos.ui`` with an ingest key), whose ``/git/runs/...``
repositories the workers' ``CandidateExchange`` pushes to and clones from. Each
test checks what landed in the bare repositories on disk, not only git's exit.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from factoryos.events import run_token
from factoryos.models import Product, Run, parse_as
from factoryos.store import LocalStore
from factoryos.worker.exchange import CandidateExchange, ExchangeError
from factoryos.workloads import WorkloadSpec
from factoryos.workloads.exchange import EXCHANGE_TOKEN_ENV, EXCHANGE_URL_ENV

TOKEN = "remote-token-0123456789abcdef"
KEY = "ingest-key-for-tests"
STARTUP_SECONDS = 30


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.url.removeprefix("http://").rstrip("/").partition(":")
        return host, int(port)

    def log_since(self, offset: int) -> str:
        return self.log.read_text()[offset:]

    def log_size(self) -> int:
        return len(self.log.read_text())

    def raw(self, method: str, path: str, token: str | None) -> tuple[int, bytes]:
        """A request with ``path`` sent as it is (no client normalizes its ``..``)."""
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _start(command: list[str], env: dict[str, str], log: Path, pattern: str) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return Server(found.group(1), process, log)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{command[2]} did not start: {log.read_text()}")


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def _python_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FACTORYOS_"))}
    return {**env, "HOME": str(tmp), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """git as a client with no user configuration, credential helper or prompt."""
    home = tmp_path_factory.mktemp("client-home")
    return {
        **_python_env(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@factoryos.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@factoryos.invalid",
    }


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("remote")
    (tmp / "token").write_text(TOKEN + "\n")
    command = [
        sys.executable, "-m", "factoryos.ui.git_service", "--root", str(tmp / "repos"),
        "--port", "0", "--token-file", str(tmp / "token"), "--init", "demo", "big",
    ]  # fmt: skip
    server = _start(command, _python_env(tmp), tmp / "server.log", r"at (http://[0-9.:]+/)")
    yield server
    _stop(server)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard of a factory whose store holds runs r1 and r2 of product p."""
    tmp = tmp_path_factory.mktemp("dashboard")
    store = LocalStore(tmp / "home" / "factoryos.db")
    store.create(parse_as(Product, {"metadata": {"name": "p"}, "spec": {"repo": {"path": "/x"}}}))
    for name in ("r1", "r2"):
        run = {"metadata": {"name": name}, "spec": {"productRef": {"name": "p"}, "goal": "g"}}
        store.create(parse_as(Run, run))
    store.close()
    env = {
        **_python_env(tmp),
        "FACTORYOS_HOME": str(tmp / "home"),
        "FACTORYOS_INGEST_KEY": KEY,
    }
    command = [sys.executable, "-m", "factoryos.ui", "--port", "0", "--announce"]
    server = _start(command, env, tmp / "dashboard.log", r'"url": "(http://[0-9.:]+/)"')
    yield server
    _stop(server)


def git(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def ok(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = git(env, *args, cwd=cwd)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def refs(bare: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(bare), "for-each-ref"], capture_output=True, text=True, check=True
    ).stdout


def commit(env: dict[str, str], repo: Path, name: str, content: bytes | str) -> str:
    path = repo / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    ok(env, "add", name, cwd=repo)
    ok(env, "commit", "-qm", f"add {name}", cwd=repo)
    return ok(env, "rev-parse", "HEAD", cwd=repo).strip()


def new_repo(env: dict[str, str], path: Path) -> Path:
    ok(env, "init", "-q", "-b", "main", str(path))
    commit(env, path, "README.md", "hello\n")
    return path


def bearer(token: str) -> list[str]:
    return ["-c", f"http.extraHeader=Authorization: Bearer {token}"]


# --- the standalone remote ------------------------------------------------------------


def test_clone_push_and_fetch_with_the_token(
    remote: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    bare = remote.log.parent / "repos" / "demo.git"
    seed = new_repo(git_env, tmp_path / "seed")
    ok(git_env, *bearer(TOKEN), "push", "-q", f"{remote.url}demo.git", "main", cwd=seed)
    assert "refs/heads/main" in refs(bare)

    basic_url = remote.url.replace("http://", f"http://x-token:{TOKEN}@") + "demo.git"
    ok(git_env, "clone", "-q", basic_url, str(tmp_path / "work"))
    work = tmp_path / "work"
    ok(git_env, "checkout", "-q", "-b", "factory/demo/c0", cwd=work)
    pushed = commit(git_env, work, "feature.txt", "a feature\n")
    ok(git_env, "push", "-q", "origin", "factory/demo/c0", cwd=work)
    on_disk = subprocess.run(
        ["git", "-C", str(bare), "log", "-1", "--format=%H %s", "factory/demo/c0"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert on_disk.strip() == f"{pushed} add feature.txt"

    ok(git_env, *bearer(TOKEN), "fetch", "-q", f"{remote.url}demo.git", "factory/demo/c0", cwd=seed)
    assert ok(git_env, "rev-parse", "FETCH_HEAD", cwd=seed).strip() == pushed


def test_a_push_of_megabytes_streams_through(
    remote: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    """Past git's http.postBuffer (1 MiB) the body is chunked, with no Content-Length."""
    repo = new_repo(git_env, tmp_path / "big")
    pushed = commit(git_env, repo, "blob.bin", os.urandom(3 * 1024 * 1024))
    ok(git_env, *bearer(TOKEN), "push", "-q", f"{remote.url}big.git", "main", cwd=repo)
    assert pushed in refs(remote.log.parent / "repos" / "big.git")
    clone = tmp_path / "again"
    ok(git_env, *bearer(TOKEN), "clone", "-q", f"{remote.url}big.git", str(clone))
    assert (clone / "blob.bin").read_bytes() == (repo / "blob.bin").read_bytes()


def test_a_gzipped_request_body_is_inflated_by_the_backend(
    remote: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    """Protocol v0 gzips a fetch request over 1 KiB (here: 60 commits the server lacks)."""
    other = new_repo(git_env, tmp_path / "other")
    wanted = commit(git_env, other, "other.txt", "from elsewhere\n")
    ok(
        git_env,
        *bearer(TOKEN),
        "push",
        "-q",
        f"{remote.url}demo.git",
        "main:refs/heads/gz",
        cwd=other,
    )
    repo = new_repo(git_env, tmp_path / "haves")
    for i in range(60):
        ok(git_env, "commit", "-q", "--allow-empty", "-m", f"local {i}", cwd=repo)
    done = git(
        {**git_env, "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
        *bearer(TOKEN), "-c", "protocol.version=0",
        "fetch", f"{remote.url}demo.git", "gz", cwd=repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Content-Encoding: gzip" in done.stderr, "the request was not gzipped: no test"
    assert ok(git_env, "rev-parse", "FETCH_HEAD", cwd=repo).strip() == wanted


def _backends(root: Path) -> list[int]:
    """The processes serving ``root``: git http-backend and the git it runs."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"GIT_PROJECT_ROOT={root}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_client_that_leaves_mid_clone_stops_its_backend(
    remote: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo = new_repo(git_env, tmp_path / "slow")
    wanted = commit(git_env, repo, "blob.bin", os.urandom(8 * 1024 * 1024))
    ok(
        git_env,
        *bearer(TOKEN),
        "push",
        "-q",
        f"{remote.url}big.git",
        "main:refs/heads/slow",
        cwd=repo,
    )
    root = remote.log.parent / "repos"
    connection = http.client.HTTPConnection(*remote.address, timeout=10)
    connection.request(
        "POST",
        "/big.git/git-upload-pack",
        body=f"0032want {wanted}\n00000009done\n".encode(),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/x-git-upload-pack-request",
        },
    )
    response = connection.getresponse()
    assert response.status == 200 and len(response.read(64 * 1024)) == 64 * 1024
    assert _backends(root), "the backend is writing the pack"
    connection.close()
    deadline = time.monotonic() + 10
    while _backends(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _backends(root), "the backend outlived its client"


def test_without_the_token_nothing_is_pushed_or_read(
    remote: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    bare = remote.log.parent / "repos" / "demo.git"
    repo = new_repo(git_env, tmp_path / "intruder")
    before, offset = refs(bare), remote.log_size()
    url = f"{remote.url}demo.git"
    wrong_basic = remote.url.replace("http://", "http://x-token:nope@") + "demo.git"
    attempts = [
        ["push", url, "main:refs/heads/intruder"],
        [*bearer("nope"), "push", url, "main:refs/heads/intruder"],
        ["push", wrong_basic, "main:refs/heads/intruder"],
        [*bearer(TOKEN[:-1]), "push", url, "main:refs/heads/intruder"],
        ["ls-remote", url],
        ["clone", wrong_basic, str(tmp_path / "stolen")],
    ]
    for args in attempts:
        done = git(git_env, *args, cwd=repo)
        assert done.returncode != 0, args
        assert "Authentication failed" in done.stderr or "could not read" in done.stderr, args
    assert refs(bare) == before
    log = remote.log_since(offset)
    assert "refused" in log and " 401 " in log
    assert 'git-receive-pack HTTP/1.1" 200' not in log, "nothing reached receive-pack"
    assert TOKEN not in log
    assert not (tmp_path / "stolen").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/../demo.git/info/refs?service=git-upload-pack",
        "/%2e%2e/repos/demo.git/info/refs?service=git-upload-pack",
        "/..%2Fremote%2Frepos%2Fdemo.git/info/refs?service=git-upload-pack",
        "/%2e%2e.git/info/refs?service=git-upload-pack",
        "/.git/info/refs?service=git-upload-pack",
        "/demo.git/..%2F..%2Ftoken",
        "/demo.git/../../token",
        "/demo.git/config",
        "/demo.git/HEAD",
        "/nope.git/info/refs?service=git-upload-pack",
        "//etc/passwd.git/info/refs?service=git-upload-pack",
    ],
)
def test_names_that_leave_the_root_are_refused(remote: Server, path: str) -> None:
    status, body = remote.raw("GET", path, TOKEN)
    assert status in {400, 403, 404}, (path, status)
    assert TOKEN.encode() not in body and b"[core]" not in body
    assert not (remote.log.parent / "repos" / "nope.git").exists()


def _command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factoryos.ui.git_service", "--root", str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_missing_token_file_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = _command(tmp_path, "--token-file", str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"git service: cannot read the token file {tmp_path / 'absent'}: No such file or directory"
    ]


def test_an_empty_token_or_a_name_out_of_the_root_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    empty = _command(tmp_path, "--token-file", str(tmp_path / "empty"))
    assert empty.returncode == 2 and "is empty" in empty.stderr
    (tmp_path / "token").write_text(TOKEN)
    escape = _command(tmp_path, "--token-file", str(tmp_path / "token"), "--init", "../out")
    assert escape.returncode == 2 and "--init '../out'" in escape.stderr
    assert not (tmp_path.parent / "out.git").exists()


def test_the_help_shows_both_ways_to_send_the_token(tmp_path: Path) -> None:
    shown = _command(tmp_path, "--help")
    assert shown.returncode == 0
    for words in ("--token-file FILE", "--init NAME", "http.extraHeader", "x-token:$TOKEN@"):
        assert words in shown.stdout, words


# --- the dashboard's run repositories -------------------------------------------------


def _spec(volume: Path, run: str = "r1", candidate: int = 0) -> WorkloadSpec:
    return WorkloadSpec(
        name=f"{run}-c{candidate}",
        namespace="default",
        product="p",
        run=run,
        candidate=candidate,
        attempt=1,
        run_dir=volume / "runs" / "default" / run,
        repo_url="https://example.invalid/product.git",
        goal="g",
    )


def _exchange(dashboard: Server, env: dict[str, str], run: str, token: str) -> CandidateExchange:
    url = f"{dashboard.url}git/runs/default/{run}.git"
    exchange = CandidateExchange.from_env({**env, EXCHANGE_URL_ENV: url, EXCHANGE_TOKEN_ENV: token})
    assert exchange is not None
    return exchange


def _built(git_env: dict[str, str], spec: WorkloadSpec) -> str:
    """A build's clone on its own volume, with its candidate branch committed."""
    clone = spec.layout.repo(spec.candidate)
    clone.parent.mkdir(parents=True)
    new_repo(git_env, clone)
    ok(git_env, "checkout", "-q", "-b", f"factory/{spec.run}/c{spec.candidate}", cwd=clone)
    return commit(git_env, clone, "candidate.txt", f"candidate {spec.candidate}\n")


def test_builds_push_and_the_evaluation_clones_through_the_dashboard(
    dashboard: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    token = run_token(KEY, "default", "r1")
    exchange = _exchange(dashboard, git_env, "r1", token)
    built = {}
    for candidate in (0, 1):
        spec = _spec(tmp_path / f"c{candidate}-volume", candidate=candidate)
        built[candidate] = _built(git_env, spec)
        exchange.push_candidate(spec)

    bare = dashboard.log.parent / "home" / "runs" / "default" / "r1" / "exchange.git"
    for candidate, sha in built.items():
        logged = subprocess.run(
            ["git", "-C", str(bare), "log", "-1", "--format=%H", f"factory/r1/c{candidate}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert logged.strip() == sha

    evaluation = _spec(tmp_path / "e0-volume", candidate=0)
    exchange.fetch_candidates(evaluation, [0, 1])
    for candidate, sha in built.items():
        clone = evaluation.layout.repo(candidate)
        assert ok(git_env, "rev-parse", "HEAD", cwd=clone).strip() == sha
        assert ok(git_env, "remote", "get-url", "origin", cwd=clone).strip() == evaluation.repo_url

    # The same with plain git, as a person would: the run's token in a header.
    url = f"{dashboard.url}git/runs/default/r1.git"
    plain = tmp_path / "plain"
    ok(git_env, *bearer(token), "clone", "-q", "--branch", "factory/r1/c1", url, str(plain))
    assert ok(git_env, "rev-parse", "HEAD", cwd=plain).strip() == built[1]


def test_another_runs_token_cannot_push_to_this_runs_repository(
    dashboard: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    mine = _exchange(dashboard, git_env, "r1", run_token(KEY, "default", "r1"))
    spec = _spec(tmp_path / "volume", candidate=5)
    _built(git_env, spec)
    mine.push_candidate(spec)  # the repository exists, with a branch
    bare = dashboard.log.parent / "home" / "runs" / "default" / "r1" / "exchange.git"
    before = refs(bare)

    ok(git_env, "commit", "-q", "--allow-empty", "-m", "overwrite", cwd=spec.layout.repo(5))
    for token in (run_token(KEY, "default", "r2"), run_token(KEY, "other", "r1"), "", "nope"):
        thief = _exchange(dashboard, git_env, "r1", token or "x")
        with pytest.raises(ExchangeError, match="git push"):
            thief.push_candidate(spec)
        with pytest.raises(ExchangeError, match="git clone"):
            thief.fetch_candidates(_spec(tmp_path / f"steal-{len(token)}"), [5])
    no_header = git(git_env, "push", f"{dashboard.url}git/runs/default/r1.git", "HEAD:refs/heads/x",
                    cwd=spec.layout.repo(5))  # fmt: skip
    assert no_header.returncode != 0
    assert refs(bare) == before
    assert not (dashboard.log.parent / "home" / "runs" / "default" / "r2").exists()


@pytest.mark.parametrize(
    ("path", "namespace", "run"),
    [
        ("/git/runs/../r1.git/info/refs?service=git-upload-pack", "..", "r1"),
        ("/git/runs/%2e%2e/r1.git/info/refs?service=git-upload-pack", "..", "r1"),
        ("/git/runs/default/%2e%2e.git/info/refs?service=git-upload-pack", "default", ".."),
        ("/git/runs/default/..%2Fr1.git/info/refs?service=git-upload-pack", "default", "../r1"),
        ("/git/runs/default/r1.git/..%2F..%2Fevents.ndjson", "default", "r1"),
        ("/git/runs/default/r1.git/../exchange.git/HEAD", "default", "r1"),
        ("/git/runs/default/r1.git/HEAD", "default", "r1"),
    ],
)
def test_the_dashboard_refuses_paths_out_of_a_runs_repository(
    dashboard: Server, path: str, namespace: str, run: str
) -> None:
    status, body = dashboard.raw("GET", path, run_token(KEY, namespace, run))
    assert status in {400, 403, 404}, (path, status)
    assert b"ref: refs/heads" not in body
    home = dashboard.log.parent / "home"
    assert not (home / "exchange.git").exists() and not (home / "runs" / "exchange.git").exists()


def test_the_dashboard_announces_where_it_listens(dashboard: Server) -> None:
    """(The fixture's own check: the JSON line ``--announce`` prints.)"""
    first = dashboard.log.read_text().splitlines()[0]
    assert json.loads(first)["url"] == dashboard.url
