"""The normalized word error rate used to judge transcripts."""

from __future__ import annotations

import pytest

from factoryos.voice.wer import word_error_rate, words


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("Open the pod bay doors.", "open the pod bay doors", 0.0),
        ("open the pod bay doors", "open the bay doors", 0.2),  # one deletion
        ("open the pod bay doors", "open the pod bay doors now", 0.2),  # one insertion
        ("open the pod bay doors", "close the pod bay doors", 0.2),  # one substitution
        ("it's nine", "its nine", 0.5),
        ("", "", 0.0),
        ("", "noise", 1.0),
        ("hello", "", 1.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


def test_words_drop_punctuation_and_case_but_keep_inner_apostrophes() -> None:
    assert words("Don't PANIC, Arthur! 42.") == ["don't", "panic", "arthur", "42"]
