"""The factory git service: the bridge's pure parts, and the dashboard's run repositories.

The dashboard tests go through the app in process (``TestClient``) with the real
``git http-backend`` behind it; whole git clients against a served process are in
``tests/integration/ui/test_git_clients.py``.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from starlette.datastructures import Headers
from starlette.testclient import TestClient
from ui_support import BEARER, keyed_client, make_site

from factoryos.events import run_token
from factoryos.ui.api import RUN_REPOSITORY
from factoryos.ui.git_http import (
    CgiHead,
    GitHttpError,
    basic_or_bearer,
    cgi_environment,
    init_bare,
    parse_cgi_head,
    parse_cgi_response,
    repository_path,
    smart_service,
    split_cgi_output,
)

KEY = "ingest-key"
REFS = "/git/runs/default/r1.git/info/refs?service=git-upload-pack"


def _environment(**overrides: object) -> dict[str, str]:
    given: dict[str, object] = {
        "project_root": Path("/srv/repos"),
        "path_info": "/demo.git/git-receive-pack",
        "method": "POST",
        "query": "",
        "headers": Headers(
            {
                "Content-Type": "application/x-git-receive-pack-request",
                "Content-Encoding": "gzip",
                "Git-Protocol": "version=2",
            }
        ),
        "content_length": 123,
        "remote_user": "default/r1",
        "base": {"PATH": "/usr/bin", "HOME": "/home/f", "GIT_DIR": "/elsewhere"},
    }
    given.update(overrides)
    return cgi_environment(**given)  # type: ignore[arg-type]


def test_the_cgi_environment_names_the_repository_the_request_and_allows_pushes() -> None:
    env = _environment()
    assert env["GIT_PROJECT_ROOT"] == "/srv/repos"
    assert env["PATH_INFO"] == "/demo.git/git-receive-pack"
    assert env["REQUEST_METHOD"] == "POST" and env["QUERY_STRING"] == ""
    assert env["CONTENT_TYPE"] == "application/x-git-receive-pack-request"
    assert env["CONTENT_LENGTH"] == "123"
    assert env["HTTP_CONTENT_ENCODING"] == "gzip", "http-backend inflates git's gzip bodies"
    assert env["HTTP_GIT_PROTOCOL"] == "version=2"
    assert env["REMOTE_USER"] == "default/r1"
    assert env["GIT_HTTP_EXPORT_ALL"] == "1"
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs == {"http.receivepack": "true"}
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/f"


def test_the_cgi_environment_keeps_the_servers_git_variables_out() -> None:
    base = {
        "PATH": "/usr/bin",
        "GIT_DIR": "/elsewhere",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": "/evil",
        "HTTP_PROXY": "http://proxy",
        "PATH_INFO": "/other.git/info/refs",
        "CONTENT_LENGTH": "99",
    }
    env = _environment(base=base, headers=Headers({}), method="GET", query="service=x")
    assert "GIT_DIR" not in env and "HTTP_PROXY" not in env
    assert "GIT_CONFIG_KEY_1" not in env and env["GIT_CONFIG_KEY_0"] == "http.receivepack"
    assert env["PATH_INFO"] == "/demo.git/git-receive-pack" and env["CONTENT_LENGTH"] == "123"
    assert "HTTP_CONTENT_ENCODING" not in env and "HTTP_GIT_PROTOCOL" not in env
    assert env["CONTENT_TYPE"] == "" and env["QUERY_STRING"] == "service=x"


def test_a_cgi_response_is_its_status_headers_and_body() -> None:
    output = (
        b"Status: 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
        b"Cache-Control: no-cache\r\n\r\nnot found\r\n\r\nmore"
    )
    head, body = parse_cgi_response(output)
    assert head.status == 404
    assert head.headers == {"Content-Type": "text/plain", "Cache-Control": "no-cache"}, (
        "Content-Length is the server's to set: the body is streamed"
    )
    assert body == b"not found\r\n\r\nmore"
    assert parse_cgi_response(b"Content-Type: a/b\n\n\x00\x01") == (
        CgiHead(200, {"Content-Type": "a/b"}),
        b"\x00\x01",
    ), "no Status: 200; bare newlines are CGI too"


def test_the_head_is_found_only_once_its_blank_line_is_there() -> None:
    assert split_cgi_output(b"Content-Type: a/b\r\n") is None
    assert split_cgi_output(b"Content-Type: a/b\r\n\r") is None
    assert split_cgi_output(b"A: 1\r\n\r\nbody\n\nrest") == (b"A: 1", b"body\n\nrest")
    assert split_cgi_output(b"A: 1\n\nbody\r\n\r\n") == (b"A: 1", b"body\r\n\r\n")


@pytest.mark.parametrize(
    "head", [b"garbage", b"Status: abc", b"Status: 99 Low", b": empty name", b"Bad Name: x"]
)
def test_a_head_that_is_not_cgi_is_refused(head: bytes) -> None:
    with pytest.raises(ValueError, match="CGI"):
        parse_cgi_head(head)
    with pytest.raises(ValueError):
        parse_cgi_response(b"no blank line at all\r\n")


def test_repository_names_stay_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    root.mkdir()
    assert repository_path(root, "quality") == root / "quality.git"
    assert repository_path(root, "my-app_2.v1") == root / "my-app_2.v1.git"
    for name in ("..", "../x", "a/b", "/etc/passwd", ".hidden", "a..b", "", "x\ny", "a b"):
        with pytest.raises(GitHttpError) as refused:
            repository_path(root, name)
        assert refused.value.status == 404, name
    outside = tmp_path / "outside.git"
    outside.mkdir()
    (root / "escape.git").symlink_to(outside)
    with pytest.raises(GitHttpError, match="out of the root"):
        repository_path(root, "escape")


def test_only_the_smart_protocol_is_served() -> None:
    assert smart_service("GET", "info/refs", "service=git-upload-pack") == "git-upload-pack"
    assert smart_service("GET", "info/refs", "service=git-receive-pack") == "git-receive-pack"
    assert smart_service("POST", "git-upload-pack", "") == "git-upload-pack"
    assert smart_service("POST", "git-receive-pack", "") == "git-receive-pack"
    refused = [
        ("GET", "info/refs", "", 403),  # the dumb protocol
        ("GET", "info/refs", "service=git-shell", 403),
        ("GET", "HEAD", "", 404),
        ("GET", "objects/info/packs", "", 404),
        ("GET", "config", "", 404),
        ("GET", "../../etc/passwd", "", 404),
        ("POST", "info/refs", "service=git-upload-pack", 405),
        ("GET", "git-receive-pack", "", 405),
    ]
    for method, rest, query, status in refused:
        with pytest.raises(GitHttpError) as error:
            smart_service(method, rest, query)
        assert error.value.status == status, (method, rest, query)


def test_the_token_comes_as_bearer_or_as_the_basic_password() -> None:
    def basic(credentials: str) -> str:
        return "Basic " + base64.b64encode(credentials.encode()).decode()

    assert basic_or_bearer("Bearer abc") == ("token", "abc")
    assert basic_or_bearer("bearer  abc ") == ("token", "abc")
    assert basic_or_bearer(basic("x-token:abc")) == ("x-token", "abc")
    assert basic_or_bearer(basic(":abc")) == ("token", "abc")
    assert basic_or_bearer(basic("x:a:b")) == ("x", "a:b")
    for header in (None, "", "Bearer", "Bearer ", basic("abc"), basic("x:"), "Basic !!", "Token a"):
        assert basic_or_bearer(header) is None, header


def test_a_bare_repository_is_made_once_even_by_concurrent_calls(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "default" / "r1" / "exchange.git"
    made: list[bool] = []
    threads = [threading.Thread(target=lambda: made.append(init_bare(path))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [False] * 5 + [True]
    assert (path / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (path / "objects").is_dir() and not (path / ".git").exists()
    assert [p.name for p in path.parent.iterdir()] == ["exchange.git"], "no partial left"
    assert init_bare(path) is False


def _git_site(tmp_path: Path, key: str | None = KEY) -> tuple[TestClient, Path]:
    site = make_site(tmp_path)
    return keyed_client(site, key), site.run_dir("r1").path / RUN_REPOSITORY


def _auth(run: str, namespace: str = "default") -> dict[str, str]:
    return {"Authorization": f"Bearer {run_token(KEY, namespace, run)}"}


def test_a_runs_repository_is_made_on_first_use_and_served_for_its_token(
    tmp_path: Path,
) -> None:
    client, repository = _git_site(tmp_path)
    assert not repository.exists()
    response = client.get(REFS, headers=_auth("r1"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert response.content.startswith(b"001e# service=git-upload-pack\n")
    assert (repository / "HEAD").is_file()
    push = client.get(
        "/git/runs/default/r1.git/info/refs?service=git-receive-pack", headers=_auth("r1")
    )
    assert push.status_code == 200 and b"report-status" in push.content, "pushes are on"
    # A POST needs no CSRF token and no session: the run's token is the whole check.
    post = client.post(
        "/git/runs/default/r1.git/git-upload-pack",
        content=b"0000",
        headers={**_auth("r1"), "Content-Type": "application/x-git-upload-pack-request"},
    )
    assert post.status_code == 200
    assert post.headers["content-type"] == "application/x-git-upload-pack-result"


def test_a_runs_repository_needs_that_runs_token(tmp_path: Path) -> None:
    client, repository = _git_site(tmp_path)
    for headers in ({}, BEARER, _auth("r2"), _auth("r1", "other"), {"Authorization": "Bearer "}):
        response = client.get(REFS, headers=headers, follow_redirects=False)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"].startswith("text/plain"), "git shows it"
        assert "this run's repository" in response.text
    assert not repository.exists(), "a refused request makes nothing"


def test_without_an_ingest_key_there_is_no_git_service(tmp_path: Path) -> None:
    client, repository = _git_site(tmp_path, key=None)
    response = client.get(REFS, headers=_auth("r1"))
    assert response.status_code == 404
    assert "FACTORYOS_INGEST_KEY" in response.text
    assert not repository.exists()


def test_only_existing_runs_with_valid_names_have_a_repository(tmp_path: Path) -> None:
    client, _ = _git_site(tmp_path)
    unknown = client.get(REFS.replace("/r1.git", "/nope.git"), headers=_auth("nope"))
    assert unknown.status_code == 404 and "not found" in unknown.text
    for namespace, name in (("default", ".."), ("..", "r1"), ("default", "R1"), ("default", "a_b")):
        url = f"/git/runs/{namespace}/{name}.git/info/refs?service=git-upload-pack"
        response = client.get(url, headers=_auth(name, namespace))
        assert response.status_code == 404, (namespace, name)
    assert not (tmp_path / "home" / "runs" / "default" / "nope").exists()
    assert not (tmp_path / "home" / "runs" / "exchange.git").exists()


def test_a_runs_repository_serves_only_the_smart_protocol(tmp_path: Path) -> None:
    client, repository = _git_site(tmp_path)
    base = "/git/runs/default/r1.git/"
    assert client.get(base + "info/refs", headers=_auth("r1")).status_code == 403
    assert client.get(base + "HEAD", headers=_auth("r1")).status_code == 404
    assert client.get(base + "config", headers=_auth("r1")).status_code == 404
    assert client.get(base + "objects/info/packs", headers=_auth("r1")).status_code == 404
    assert client.post(REFS, headers=_auth("r1")).status_code == 405
    assert not repository.exists(), "nothing is made for a request git would not make"


def test_the_git_routes_are_not_in_the_api_schema(tmp_path: Path) -> None:
    client, _ = _git_site(tmp_path)
    paths = client.get("/api/openapi.json", headers=BEARER).json()["paths"]
    assert not [p for p in paths if p.startswith("/git")]
    assert "/api/ingest/runs/{namespace}/{name}/events" in paths
