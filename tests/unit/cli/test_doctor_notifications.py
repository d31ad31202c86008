"""``sf doctor`` says how many more local runs get file notifications before runners poll."""

from __future__ import annotations

from factoryos.cli.doctor import notification_finding


def test_the_limit_and_the_runs_left_are_reported_never_failed() -> None:
    finding = notification_finding(128, 27)
    assert finding.ok
    assert "fs.inotify.max_user_instances = 128, 27 in use" in finding.message
    assert "about 100 more runs" in finding.message  # one instance is the dashboard's
    assert "sysctl -w fs.inotify.max_user_instances=1024" in finding.message


def test_a_limit_already_reached_leaves_no_run_notified() -> None:
    finding = notification_finding(128, 128)
    assert finding.ok
    assert "about 0 more runs" in finding.message


def test_a_generous_limit_needs_no_advice() -> None:
    finding = notification_finding(8192, 10)
    assert "sysctl -w" not in finding.message


def test_without_inotify_runners_poll() -> None:
    assert "runners poll" in notification_finding(None, 0).message
