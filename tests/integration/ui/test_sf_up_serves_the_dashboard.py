"""``sf up`` serves the dashboard: address and new token printed once, busy port, no dashboard."""

from __future__ import annotations

import socket
import stat
import subprocess

import httpx
import pytest
from factory_support import SF, Factory, wait_for

from factoryos.controlplane import control_plane_pid


@pytest.mark.slow
def test_the_token_is_printed_once_and_kept_private(factory: Factory) -> None:
    factory.up(dashboard=True)
    log = (factory.root / "sf-up.log").read_text()
    token = factory.token
    assert f"  {token}" in log and "shown once" in log
    assert stat.S_IMODE((factory.home / "dashboard-token").stat().st_mode) == 0o600
    assert factory.dashboard.startswith("http://127.0.0.1:")
    assert httpx.get(factory.dashboard + "healthz").text == "ok"
    factory.down()

    factory.up(dashboard=True)
    again = (factory.root / "sf-up.log").read_text()[len(log) :]
    assert token not in again and "sign in with the token in" in again
    assert factory.token == token


def test_a_busy_port_leaves_the_control_plane_running(factory: Factory) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        log = (factory.root / "busy.log").open("w")
        plane = subprocess.Popen(
            [*SF, "up", "--port", str(port)], env=factory.env, stdout=log, stderr=log
        )
        try:
            wait_for(
                lambda: "cannot listen" in (factory.root / "busy.log").read_text(),
                what="the dashboard to report the busy port",
            )
            text = (factory.root / "busy.log").read_text()
            assert f"127.0.0.1:{port}" in text and "--port" in text
            assert control_plane_pid(factory.home) == plane.pid
        finally:
            plane.terminate()
            plane.wait(timeout=30)


def test_no_dashboard_means_no_server_and_no_token(factory: Factory) -> None:
    factory.up()
    log = (factory.root / "sf-up.log").read_text()
    assert "dashboard at" not in log and "token" not in log
    assert not (factory.home / "dashboard-token").exists()
