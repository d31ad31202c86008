"""Feature switches read from ``features.txt`` at the repository root (one name per line)."""

from __future__ import annotations

from pathlib import Path

FEATURES_FILE = Path(__file__).resolve().parent.parent / "features.txt"


def enabled(path: Path = FEATURES_FILE) -> frozenset[str]:
    """The names listed in ``path``; blank lines and ``#`` comments are ignored."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
