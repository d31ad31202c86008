"""An agent CLI's account of its model requests, read from its stage logs (agent_errors).

The lines are trimmed from what the pinned codex 0.169 and claude 2.1.328 printed
against the scripted endpoint (tests/integration/agents).
"""

from __future__ import annotations

import json
from pathlib import Path

from factoryos.kilroy.agent_errors import (
    CLI_INVOCATION,
    MAX_MESSAGE,
    AgentReport,
    agent_report,
    stage_agent_report,
)

URL = "url: http://127.0.0.1:4/v1/responses"
CODEX_401 = "\n".join(
    json.dumps(e)
    for e in [
        {"type": "thread.started", "thread_id": "t"},
        {"type": "item.completed", "item": {"type": "error", "message": "Model metadata..."}},
        {"type": "turn.started"},
        {
            "type": "error",
            "message": f"Reconnecting... 1/5 (unexpected status 401 Unauthorized: bad key, {URL})",
        },
        {
            "type": "error",
            "message": f"Reconnecting... 2/5 (unexpected status 401 Unauthorized: bad key, {URL})",
        },
        {"type": "error", "message": f"unexpected status 401 Unauthorized: bad key, {URL}"},
        {
            "type": "turn.failed",
            "error": {"message": f"unexpected status 401 Unauthorized: bad key, {URL}"},
        },
    ]
)
CLAUDE_429_THEN_OK = "\n".join(
    json.dumps(e)
    for e in [
        {"type": "system", "subtype": "init"},
        {
            "type": "system",
            "subtype": "api_retry",
            "attempt": 1,
            "error_status": 429,
            "error": "rate_limit",
        },
        {
            "type": "system",
            "subtype": "api_retry",
            "attempt": 2,
            "error_status": 429,
            "error": "rate_limit",
        },
        {"type": "result", "subtype": "success", "is_error": False, "result": "Done."},
    ]
)
CLAUDE_401 = json.dumps(
    {"type": "result", "is_error": True, "api_error_status": 401,
     "result": "Failed to authenticate. API Error: 401 bad key"}
)  # fmt: skip


def test_codex_gives_the_providers_message_and_counts_its_reconnects() -> None:
    report = agent_report(CODEX_401, "Reading prompt from stdin...\n")
    assert report.error == f"unexpected status 401 Unauthorized: bad key, {URL}"
    assert report.retries == 2
    assert report.retry_reason == f"unexpected status 401 Unauthorized: bad key, {URL}"


def test_claude_reports_retries_and_the_result_error() -> None:
    ok = agent_report(CLAUDE_429_THEN_OK, "")
    assert ok == AgentReport(error=None, retries=2, retry_reason="429 rate_limit")
    assert ok.retry_summary() == "the agent CLI retried 2 model request(s) (last: 429 rate_limit)"
    failed = agent_report(CLAUDE_401, "")
    assert failed.error == "Failed to authenticate. API Error: 401 bad key"
    assert (
        failed.failure("exit status 1")
        == "exit status 1: Failed to authenticate. API Error: 401 bad key"
    )


def test_anything_else_falls_back_to_the_last_meaningful_stderr_line() -> None:
    stderr = "Loaded cached credentials.\n[API Error: 401 UNAUTHENTICATED bad key]\n\n"
    assert (
        agent_report("not json\n{broken", stderr).error
        == "[API Error: 401 UNAUTHENTICATED bad key]"
    )
    assert agent_report("", "Reading prompt from stdin...\n") == AgentReport()


def test_nothing_to_add_keeps_kilroys_reason_and_reports_no_retry() -> None:
    assert AgentReport().failure("exit status 1") == "exit status 1"
    assert AgentReport().retry_summary() is None
    assert AgentReport(error="boom").failure(None) == "boom"


def test_long_messages_are_clipped_to_one_line() -> None:
    report = agent_report(
        json.dumps({"type": "turn.failed", "error": {"message": "x\n" * 400}}), ""
    )
    assert report.error is not None
    assert len(report.error) == MAX_MESSAGE and "\n" not in report.error


def test_only_stages_where_a_cli_ran_have_a_report(tmp_path: Path) -> None:
    assert stage_agent_report(tmp_path) is None  # a tool node: no cli_invocation.json
    (tmp_path / CLI_INVOCATION).write_text("{}")
    (tmp_path / "stdout.log").write_text(CLAUDE_401)
    report = stage_agent_report(tmp_path)
    assert report is not None and report.error == "Failed to authenticate. API Error: 401 bad key"
