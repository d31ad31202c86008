"""Errors from the API server are worded from its Status message, else the HTTP reason."""

from __future__ import annotations

import json

import pytest

from factoryos.apistatus import status_message


def test_the_status_message_is_used_when_the_body_has_one() -> None:
    body = json.dumps({"kind": "Status", "message": 'runs "r" already exists', "code": 409})
    assert status_message(body, "Conflict") == 'runs "r" already exists'
    assert status_message(body.encode(), "Conflict") == 'runs "r" already exists'


@pytest.mark.parametrize("body", [None, "", "not json", "[1, 2]", json.dumps({"code": 500})])
def test_the_reason_stands_in_when_there_is_no_message(body: str | None) -> None:
    assert status_message(body, "Internal Server Error") == "Internal Server Error"
