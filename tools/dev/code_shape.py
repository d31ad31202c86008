"""Module sizes and function lengths of the Python tree, for structure reviews.

Run ``python tools/dev/code_shape.py [ROOT ...]`` (default: factoryos cli ui
controller). It prints the largest modules, the longest functions, a summary
line (modules, median and max lines, functions over 50 lines) and the module
names that repeat across packages. Symlinked folders are skipped so each
file counts once. Standard library only; nothing imports it.
"""

from __future__ import annotations

import ast
import statistics
import sys
from collections import Counter
from pathlib import Path

LONG_FUNCTION = 50


def python_files(roots: list[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if any(part.is_symlink() for part in [path, *path.parents] if part != Path()):
                continue
            if "templates" in path.parts:
                continue
            files.append(path)
    return files


def function_lengths(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            found.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path(p) for p in ("factoryos", "cli", "ui", "controller")]
    files = python_files([r for r in roots if r.exists()])
    sizes = sorted(
        ((len(f.read_text(encoding="utf-8").splitlines()), str(f)) for f in files), reverse=True
    )
    functions = sorted((fl for f in files for fl in function_lengths(f)), reverse=True)
    print("largest modules:")
    for lines, name in sizes[:8]:
        print(f"  {lines:5d}  {name}")
    print("longest functions:")
    for lines, name in functions[:8]:
        print(f"  {lines:5d}  {name}")
    names = Counter(f.name for f in files if f.name not in {"__init__.py", "__main__.py"})
    repeats = {n: c for n, c in names.items() if c > 1}
    line_counts = [s for s, _ in sizes]
    print(
        f"modules {len(files)}, median {statistics.median(line_counts):.0f} lines, "
        f"max {line_counts[0]}, over 300 lines {sum(s > 300 for s in line_counts)}; "
        f"functions {len(functions)}, over {LONG_FUNCTION} lines "
        f"{sum(n > LONG_FUNCTION for n, _ in functions)}, longest {functions[0][0]}"
    )
    print(
        "repeated module names: "
        + (", ".join(f"{n} x{c}" for n, c in sorted(repeats.items())) or "none")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
