import pytest

from app.tasks import MAX_TASK_LENGTH, InvalidTaskError, Task, normalize_text, summarize


def test_normalize_trims_and_collapses_whitespace() -> None:
    assert normalize_text("  write   the  docs ") == "write the docs"


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_TASK_LENGTH + 1)])
def test_normalize_refuses_unusable_text(text: str) -> None:
    with pytest.raises(InvalidTaskError):
        normalize_text(text)


def test_summarize() -> None:
    assert summarize([]) == "nothing to do"
    tasks = [Task(id=1, text="a", done=True), Task(id=2, text="b", done=False)]
    assert summarize(tasks) == "1 of 2 done"
