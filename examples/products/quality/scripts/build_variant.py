"""The scripted stand-in for an agent: writes the variant of greet.py this candidate gets.

Kilroy runs it as the `implement` tool node with KILROY_RUN_ID = c<index>;
variants.json maps the index to correct, partial or broken (unknown: correct).
It also writes probe.txt: `clean`, or which holdout file it could find.
"""

import json
import os
import pathlib

VARIANTS = {
    "correct": 'import sys\n\nprint(f"Hello, {sys.argv[1]}")\n',
    "partial": (
        "import sys\n\nname = sys.argv[1]\n"
        'print(f"Hello, {name}" if name[0] not in "AEIOU" else f"Hi {name}")\n'
    ),
    "broken": 'import sys\n\nprint(f"Hello, {sys.argv[1]}"\n',
}

index = os.environ.get("KILROY_RUN_ID", "c0").lstrip("c")
variant = json.loads(pathlib.Path("variants.json").read_text()).get(index, "correct")
pathlib.Path("greet.py").write_text(VARIANTS[variant])

# Look for the holdouts where the factory puts what a candidate gets: its environment, its
# worktree (Kilroy's inputs included) and the whole run directory.
# (spelled in pieces, so this script does not find itself)
MARKERS = ("inter" + "action:", "stdout" + "_matches", "stdout" + "_contains")
seen = [f"env {k}" for k, v in os.environ.items() if "holdout" in (k + v).lower()]
# On a cluster the evaluation Job mounts them at /holdouts; a candidate's pod must not.
seen += [f"mount {p}" for p in ("/holdouts",) if pathlib.Path(p).exists()]
run_dir = pathlib.Path(os.environ.get("KILROY_LOGS_ROOT", ".")).resolve().parents[1]
for top in (pathlib.Path.cwd(), run_dir):
    for path in top.rglob("*"):
        try:
            if path.is_file() and any(m in path.read_text(errors="ignore") for m in MARKERS):
                seen.append(str(path))
        except OSError:
            pass
pathlib.Path("probe.txt").write_text("clean\n" if not seen else "\n".join(sorted(set(seen))) + "\n")
print(f"candidate c{index}: {variant}")
