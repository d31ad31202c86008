"""The task rules, shared by every store and the HTTP API."""

from __future__ import annotations

import re

from pydantic import BaseModel

MAX_TASK_LENGTH = 200


class Task(BaseModel):
    """A task as the API returns it."""

    id: int
    text: str
    done: bool


class InvalidTaskError(ValueError):
    """The text cannot be a task."""


def normalize_text(text: str) -> str:
    """The task text as stored: trimmed, inner whitespace collapsed."""
    cleaned = re.sub(r"\s+", " ", text).strip()
    if not cleaned:
        raise InvalidTaskError("a task needs some text")
    if len(cleaned) > MAX_TASK_LENGTH:
        raise InvalidTaskError(f"a task is at most {MAX_TASK_LENGTH} characters")
    return cleaned


def summarize(tasks: list[Task]) -> str:
    """'2 of 3 done', for the page header."""
    if not tasks:
        return "nothing to do"
    done = sum(1 for task in tasks if task.done)
    return f"{done} of {len(tasks)} done"
