"""Pipeline validation results, and the pure parts of getting them from Kilroy.

``Kilroy.validate`` runs ``kilroy attractor validate --batch FILE... --json``
and builds its answer with the functions here: ``precheck_file`` turns a file
Kilroy could not even read (missing, a directory, unreadable, empty) into a
finding of its own, and ``parse_batch_output`` turns Kilroy's JSON into
``FileValidation`` objects.

Kilroy reports DOT syntax errors with a byte offset (``dot parse: expected
edge target identifier, got "}" at 43``) into the source *after* it has
stripped ``//`` and ``/* */`` comments. ``offset_to_line_col`` maps such an
offset back to a line and column of the file as written.

The two records are ``NamedTuple``s: ``sf pipeline run`` makes them before it
starts Kilroy, where a dataclass costs a millisecond and ``dataclasses`` 9
(docs/decisions.md, issue 19 part 2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from factoryos.errors import EngineError

__all__ = [
    "Diagnostic",
    "FileValidation",
    "dot_error_position",
    "offset_to_line_col",
    "parse_batch_output",
    "precheck_file",
    "stripped_to_original_offsets",
]

_OFFSET = re.compile(r"\bat (\d+)\s*$")


class Diagnostic(NamedTuple):
    """One validator finding (a Kilroy lint rule) about a node, an edge or the graph."""

    rule: str
    severity: str
    message: str
    node_id: str | None = None
    edge_from: str | None = None
    edge_to: str | None = None
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v is not None}


class FileValidation(NamedTuple):
    """The validation result of one pipeline file."""

    file: Path
    errors: Sequence[Diagnostic] = ()
    warnings: Sequence[Diagnostic] = ()
    #: Set when the file could not be read or parsed at all (then there are no diagnostics).
    parse_error: str | None = None
    parse_line: int | None = None
    parse_column: int | None = None

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors and self.parse_error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "ok": self.ok,
            "errors": [d.to_dict() for d in self.errors],
            "warnings": [d.to_dict() for d in self.warnings],
            "parse_error": self.parse_error,
            "parse_line": self.parse_line,
            "parse_column": self.parse_column,
        }


def precheck_file(path: Path) -> FileValidation | None:
    """A finding for a file Kilroy should not be given, or None when it can be validated."""
    if not path.exists():
        return FileValidation(path, parse_error=f"file not found: {path}")
    if path.is_dir():
        return FileValidation(path, parse_error=f"is a directory, not a DOT file: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileValidation(path, parse_error=f"cannot read {path}: {exc.strerror}")
    if not data.strip():
        return FileValidation(path, parse_error="file is empty (expected a DOT digraph)")
    if b"\x00" in data:
        return FileValidation(path, parse_error="not a text file (expected a DOT digraph)")
    return None


def parse_batch_output(stdout: str, files: Sequence[Path]) -> list[FileValidation]:
    """``FileValidation`` per file from ``validate --batch --json`` output, in ``files`` order.

    ``files`` are the paths exactly as passed to Kilroy (it echoes them back).
    """
    try:
        raw = json.loads(stdout)
    except ValueError as exc:
        raise EngineError(f"kilroy validate printed something that is not JSON: {exc}") from exc
    if not isinstance(raw, list) or len(raw) != len(files):
        raise EngineError(
            f"kilroy validate answered for {len(raw) if isinstance(raw, list) else 0} "
            f"file(s), expected {len(files)}"
        )
    return [_file_result(path, entry) for path, entry in zip(files, raw, strict=True)]


def _file_result(path: Path, entry: Any) -> FileValidation:
    if not isinstance(entry, dict):
        raise EngineError("kilroy validate returned a malformed result entry")
    parse_error = entry.get("parse_error") or None
    line = column = None
    if parse_error:
        line, column = dot_error_position(path, str(parse_error))
    return FileValidation(
        file=path,
        errors=[_diagnostic(d) for d in entry.get("errors") or []],
        warnings=[_diagnostic(d) for d in entry.get("warnings") or []],
        parse_error=parse_error,
        parse_line=line,
        parse_column=column,
    )


def _diagnostic(raw: Any) -> Diagnostic:
    if not isinstance(raw, dict):
        raise EngineError("kilroy validate returned a malformed diagnostic")
    return Diagnostic(
        rule=str(raw.get("rule", "")),
        severity=str(raw.get("severity", "ERROR")).upper(),
        message=str(raw.get("message", "")),
        node_id=raw.get("node_id") or None,
        edge_from=raw.get("edge_from") or None,
        edge_to=raw.get("edge_to") or None,
        fix=raw.get("fix") or None,
    )


def dot_error_position(path: Path, message: str) -> tuple[int | None, int | None]:
    """Line and column in ``path`` of a Kilroy DOT error message, when it has a position."""
    try:
        source = path.read_bytes()
    except OSError:
        return None, None
    match = _OFFSET.search(message)
    if match:
        return offset_to_line_col(source, int(match.group(1)))
    if "unexpected EOF" in message:
        return offset_to_line_col(source, len(stripped_to_original_offsets(source)))
    return None, None


def offset_to_line_col(source: bytes, stripped_offset: int) -> tuple[int, int]:
    """1-based line and column in ``source`` of a byte offset into its comment-stripped form.

    The column counts characters (UTF-8), not bytes. An offset at or past the end
    points just after the last byte.
    """
    mapping = stripped_to_original_offsets(source)
    if stripped_offset < len(mapping):
        original = mapping[stripped_offset]
    elif mapping:
        original = mapping[-1] + 1
    else:
        original = len(source)
    original = min(original, len(source))
    before = source[:original]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return before.count(b"\n") + 1, column


def stripped_to_original_offsets(source: bytes) -> list[int]:
    """For each byte Kilroy keeps after stripping comments, its offset in ``source``.

    Mirrors Kilroy v0.1.0's ``dot.stripComments``: ``//`` comments are dropped up
    to (not including) the newline, ``/* */`` comments entirely, and nothing
    inside a double-quoted string (with backslash escapes) is a comment.
    """
    kept: list[int] = []
    i, n = 0, len(source)
    in_string = escaped = False
    while i < n:
        ch = source[i]
        if in_string:
            kept.append(i)
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:  # double quote
                in_string = False
            i += 1
            continue
        if ch == 0x22:
            in_string = True
        elif ch == 0x2F and i + 1 < n and source[i + 1] == 0x2F:  # //
            i += 2
            while i < n and source[i] != 0x0A:
                i += 1
            continue
        elif ch == 0x2F and i + 1 < n and source[i + 1] == 0x2A:  # /*
            end = source.find(b"*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        kept.append(i)
        i += 1
    return kept
