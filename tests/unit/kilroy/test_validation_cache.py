"""A pipeline Kilroy found valid is not validated again while it and Kilroy are unchanged
(``sf pipeline run`` then starts Kilroy's run without waiting for a Go start); a changed
file, another Kilroy, a file with errors and a file changed just now are validated."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from factoryos.kilroy import version_cache
from factoryos.kilroy.quick import start_validation
from factoryos.kilroy.validation import FileValidation
from factoryos.kilroy.validation_cache import KEPT, VALIDATIONS_FILE
from factoryos.settings import Settings

#: A stand-in ``kilroy attractor validate --batch FILE... --json``: notes the files it was
#: given, and finds an error in each that says "bad".
VALIDATOR = """#!{python}
import json, sys
files = sys.argv[4:-1]
with open({calls!r}, "a") as out:
    out.write(" ".join(files) + "\\n")
error = {{"rule": "r", "severity": "ERROR", "message": "bad"}}
found = [[error] if "bad" in open(f).read() else [] for f in files]
print(json.dumps([{{"errors": errors, "warnings": []}} for errors in found]))
"""


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (the cache waits 2 s after a change otherwise)."""
    monkeypatch.setattr(version_cache, "SETTLE_SECONDS", 0.0)


class Validator:
    def __init__(self, tmp_path: Path, name: str = "kilroy") -> None:
        self.calls = tmp_path / f"{name}.calls"
        self.binary = tmp_path / name
        self.binary.write_text(VALIDATOR.format(python=sys.executable, calls=str(self.calls)))
        self.binary.chmod(0o755)
        self.settings = Settings(home=tmp_path / "home")
        self.cache = tmp_path / VALIDATIONS_FILE

    def validate(self, *files: Path) -> list[FileValidation]:
        return start_validation(self.binary, files, self.settings, {}, cache=self.cache).result()

    def given(self) -> list[str]:
        """The files each call was given, by name."""
        if not self.calls.exists():
            return []
        return [
            " ".join(Path(f).name for f in line.split())
            for line in self.calls.read_text().splitlines()
        ]


def pipeline(tmp_path: Path, name: str, text: str = "digraph p { a -> b }\n") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.usefixtures("settled")
def test_an_unchanged_valid_pipeline_is_validated_once(tmp_path: Path) -> None:
    kilroy, p = Validator(tmp_path), pipeline(tmp_path, "p.dot")

    first, again = kilroy.validate(p), kilroy.validate(p)

    assert kilroy.given() == ["p.dot"]
    assert [r.ok for r in first] == [r.ok for r in again] == [True]
    assert again[0].file == p


@pytest.mark.usefixtures("settled")
def test_a_changed_pipeline_another_kilroy_and_errors_are_validated_again(tmp_path: Path) -> None:
    kilroy, p = Validator(tmp_path), pipeline(tmp_path, "p.dot")
    bad = pipeline(tmp_path, "bad.dot", "digraph bad { a -> b } // bad\n")
    kilroy.validate(p, bad)

    assert [r.ok for r in kilroy.validate(p, bad)] == [True, False]
    p.write_text("digraph p { a -> c }\n")
    kilroy.validate(p)
    other = Validator(tmp_path, "kilroy2")
    other.settings, other.cache = kilroy.settings, kilroy.cache
    other.validate(p)

    assert kilroy.given() == ["p.dot bad.dot", "bad.dot", "p.dot"]
    assert other.given() == ["p.dot"]


def test_a_pipeline_changed_just_now_is_not_remembered(tmp_path: Path) -> None:
    """A rewrite within the time stamps' granularity could leave its identity as it was."""
    kilroy, p = Validator(tmp_path), pipeline(tmp_path, "p.dot")

    kilroy.validate(p)
    kilroy.validate(p)

    assert kilroy.given() == ["p.dot", "p.dot"]


@pytest.mark.usefixtures("settled")
def test_it_keeps_the_files_validated_last(tmp_path: Path) -> None:
    kilroy = Validator(tmp_path)
    files = [pipeline(tmp_path, f"p{i}.dot") for i in range(KEPT + 1)]
    for f in files:
        kilroy.validate(f)

    kilroy.validate(files[-1])
    kilroy.validate(files[0])

    assert kilroy.given()[-1] == "p0.dot"
    assert len(kilroy.given()) == KEPT + 2
