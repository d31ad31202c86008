"""Deploy dry run of the smoke service: validate what a deploy would ship, without network.

Checks ``deploy/fly.toml`` (required keys and types), the ``Dockerfile`` it
names (a FROM first, the port it exposes and serves equal to fly.toml's
``internal_port``, every COPY source present in the repository), and that the
app imports; then writes ``deploy-plan.json``: the app, region, build plan
and the files shipped with their sizes and sha256 (in a pipeline stage, a copy
goes to ``$KILROY_STAGE_LOGS_DIR`` too, where the dashboard shows it). Each problem is printed
on its own line to stderr and the exit status is 1; nothing is written then.

    python deploy/dry_run.py [--out deploy-plan.json]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_fly(fly: dict[str, object], problems: list[str]) -> int | None:
    for key in ("app", "primary_region"):
        if not isinstance(fly.get(key), str) or not fly.get(key):
            problems.append(f"fly.toml: {key} must be a non-empty string")
    service = fly.get("http_service")
    if not isinstance(service, dict):
        problems.append("fly.toml: [http_service] is required")
        return None
    port = service.get("internal_port")
    if not isinstance(port, int) or not 0 < port < 65536:
        problems.append("fly.toml: http_service.internal_port must be a port number")
        return None
    return port


def check_dockerfile(path: Path, port: int | None, problems: list[str]) -> list[str]:
    """The COPY sources of the Dockerfile (checked to exist)."""
    if not path.is_file():
        problems.append(f"{path.name}: not found")
        return []
    lines = [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines or not lines[0].upper().startswith("FROM "):
        problems.append(f"{path.name}: the first instruction must be FROM")
    exposed = [int(p) for line in lines if line.upper().startswith("EXPOSE ")
               for p in re.findall(r"\d+", line)]  # fmt: skip
    if port is not None and port not in exposed:
        problems.append(
            f"{path.name}: EXPOSE {exposed or 'nothing'} but fly.toml has internal_port {port}"
        )
    served = [line for line in lines if line.upper().startswith("CMD ")]
    if port is not None and (not served or str(port) not in served[-1]):
        problems.append(f"{path.name}: CMD does not serve on internal_port {port}")
    sources = []
    for line in lines:
        if line.upper().startswith("COPY "):
            parts = line.split()[1:-1]
            for source in (p for p in parts if not p.startswith("--")):
                sources.append(source)
                if not (ROOT / source).exists():
                    problems.append(f"{path.name}: COPY source {source} does not exist")
    return sources


def shipped(sources: list[str]) -> list[dict[str, object]]:
    files = []
    for source in sources:
        base = ROOT / source
        paths = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        for p in paths:
            if "__pycache__" in p.parts:
                continue
            data = p.read_bytes()
            files.append(
                {
                    "path": str(p.relative_to(ROOT)),
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }  # fmt: skip
            )
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="deploy-plan.json", help="where to write the plan")
    args = parser.parse_args()
    problems: list[str] = []
    try:
        fly = tomllib.loads((ROOT / "deploy" / "fly.toml").read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        print(f"fly.toml: {exc}", file=sys.stderr)
        return 1
    port = check_fly(fly, problems)
    build = fly.get("build") if isinstance(fly.get("build"), dict) else {}
    dockerfile = ROOT / str(build.get("dockerfile", "Dockerfile"))  # type: ignore[union-attr]
    sources = check_dockerfile(dockerfile, port, problems)
    sys.path.insert(0, str(ROOT))
    try:
        importlib.import_module("app.main")
    except Exception as exc:  # noqa: BLE001 - any import failure is a deploy problem
        problems.append(f"app.main does not import: {exc}")
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    plan = {
        "app": fly["app"],
        "region": fly["primary_region"],
        "internal_port": port,
        "build": {"dockerfile": dockerfile.name, "copy": sources},
        "files": shipped(sources + [dockerfile.name, "deploy/fly.toml"]),
        "checks": ["fly.toml", "Dockerfile", "app imports"],
        "dry_run": True,
    }
    out = ROOT / args.out
    out.write_text(json.dumps(plan, indent=2) + "\n")
    stage_dir = os.environ.get("KILROY_STAGE_LOGS_DIR")  # in a pipeline stage: the dashboard
    if stage_dir:  # shows what a stage publishes in its log folder
        shutil.copyfile(out, Path(stage_dir) / out.name)
    print(f"deploy dry run ok: {plan['app']} ({len(plan['files'])} files) -> {out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
