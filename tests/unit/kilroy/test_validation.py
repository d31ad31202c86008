"""Kilroy's byte offsets (into comment-stripped DOT) become lines and columns of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factoryos.errors import EngineError
from factoryos.kilroy.validation import (
    offset_to_line_col,
    parse_batch_output,
    precheck_file,
    stripped_to_original_offsets,
)


def stripped(source: bytes) -> bytes:
    return bytes(source[i] for i in stripped_to_original_offsets(source))


def test_offsets_without_comments_are_plain_positions() -> None:
    source = b"digraph g {\n  a -> }\n}\n"
    assert offset_to_line_col(source, source.index(b"}")) == (2, 8)
    assert offset_to_line_col(source, 0) == (1, 1)


def test_comments_are_stripped_like_kilroy_does() -> None:
    source = b'a // line\nb /* block\n x */ c "// not /* a comment" d'
    assert stripped(source) == b'a \nb  c "// not /* a comment" d'


def test_offsets_after_a_multi_line_block_comment_map_back_to_the_file() -> None:
    source = (
        b"digraph g {\n"
        b"  /* a block\n"
        b"     comment */\n"
        b"  start [shape=Mdiamond] // x\n"
        b"  start -> }\n"
        b"}\n"
    )
    offset = stripped(source).index(b"-> }") + 3  # what Kilroy reports: 52
    assert offset == 52
    assert offset_to_line_col(source, offset) == (5, 12)


def test_escaped_quotes_do_not_end_a_string() -> None:
    source = b'x "a \\" // still string" // gone\ny'
    assert stripped(source) == b'x "a \\" // still string" \ny'


def test_columns_count_characters_not_bytes() -> None:
    source = 'digraph g { a [label="héllo"] -> }'.encode()
    offset = len(stripped(source)) - 1
    assert offset_to_line_col(source, offset) == (1, 34)


def test_offsets_past_the_end_point_after_the_last_character() -> None:
    source = b"digraph g {\n  a"
    assert offset_to_line_col(source, 999) == (2, 4)


def test_batch_output_maps_each_result_to_its_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.dot", tmp_path / "bad.dot"
    good.write_text("digraph g {}\n")
    bad.write_text("digraph g {\n  a -> }\n")
    output = json.dumps(
        [
            {
                "file": str(good),
                "errors": [
                    {
                        "rule": "start_node",
                        "severity": "ERROR",
                        "message": "no start",
                        "node_id": "",
                    }
                ],
                "warnings": [{"rule": "w", "severity": "WARNING", "message": "m", "fix": "f"}],
            },
            {
                "file": str(bad),
                "errors": [],
                "warnings": [],
                "parse_error": 'dot parse: expected edge target identifier, got "}" at 19',
            },
        ]
    )
    first, second = parse_batch_output(output, [good, bad])
    assert first.errors[0].rule == "start_node"
    assert first.errors[0].node_id is None
    assert first.warnings[0].fix == "f"
    assert not first.ok
    assert second.parse_error is not None
    assert (second.parse_line, second.parse_column) == (2, 8)
    assert second.to_dict()["parse_line"] == 2


def test_unexpected_eof_points_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "eof.dot"
    path.write_text("digraph g {\n  a\n")
    output = json.dumps(
        [
            {
                "file": str(path),
                "errors": [],
                "warnings": [],
                "parse_error": "dot parse: unexpected EOF (missing '}')",
            }
        ]
    )
    (result,) = parse_batch_output(output, [path])
    assert result.parse_line == 3


def test_output_that_is_not_json_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError):
        parse_batch_output("usage: ...", [tmp_path / "a.dot"])


def finding(path: Path) -> str:
    result = precheck_file(path)
    assert result is not None and result.parse_error is not None
    return result.parse_error


def test_prechecks_give_findings_for_files_kilroy_cannot_validate(tmp_path: Path) -> None:
    (tmp_path / "empty.dot").write_text("  \n")
    (tmp_path / "binary.dot").write_bytes(b"\x00\x01")
    (tmp_path / "ok.dot").write_text("digraph g {}")
    assert "not found" in finding(tmp_path / "missing.dot")
    assert "directory" in finding(tmp_path)
    assert "empty" in finding(tmp_path / "empty.dot")
    assert "not a text file" in finding(tmp_path / "binary.dot")
    assert precheck_file(tmp_path / "ok.dot") is None
