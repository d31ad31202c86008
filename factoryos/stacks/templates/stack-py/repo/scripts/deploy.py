"""Deploy dry run (the default) and real deploy of this product to Fly.io.

    .venv/bin/python scripts/deploy.py [--out deploy-plan.json]   # no network
    .venv/bin/python scripts/deploy.py --deploy                   # then `flyctl deploy`

The dry run validates ``fly.toml`` against ``deploy/fly.schema.json``, reads
the Dockerfile into its build plan (stages, each COPY source present or an
earlier stage, the final stage exposing and serving ``internal_port`` as a
non-root user), checks the migrations' names and order and that fly's health
check path is a route of the API, then builds the web export (``next build``
-> web/out) and writes the deploy plan: the image's stages, the migrations,
the API routes and the files shipped, with sizes and digests. Each problem
is printed on its own line to stderr and the exit status is 1; no plan is
written then. A real deploy needs ``FLY_API_TOKEN`` (from your secret store)
and ``flyctl`` on PATH.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def dockerfile_plan(path: Path, port: int | None, problems: list[str]) -> dict[str, Any]:
    """The Dockerfile's stages and what each copies; problems appended."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    stages: list[dict[str, Any]] = []
    for line in lines:
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append({"name": name, "from": words[0], "steps": [], "copies": []})
            continue
        if not stages:
            if op != "ARG":
                problems.append(f"Dockerfile: {op} before the first FROM")
            continue
        stage = stages[-1]
        stage["steps"].append(f"{op} {rest}")
        if op in {"COPY", "ADD"}:
            words = shlex.split(rest)
            flags = [w for w in words if w.startswith("--")]
            sources = [w for w in words if not w.startswith("--")][:-1]
            origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if origin is not None:
                if origin not in [s["name"] for s in stages[:-1]]:
                    problems.append(f"Dockerfile: COPY --from={origin}: no earlier stage")
            else:
                for source in sources:
                    if not (ROOT / source).exists():
                        problems.append(f"Dockerfile: COPY source {source} does not exist")
                stage["copies"].extend(sources)
    if not stages:
        problems.append("Dockerfile: no FROM")
        return {"stages": []}
    final = stages[-1]
    steps = final["steps"]
    exposed = [int(p) for s in steps if s.startswith("EXPOSE ") for p in re.findall(r"\d+", s)]
    cmd = next((s for s in reversed(steps) if s.startswith("CMD ")), None)
    user = next((s.split()[1] for s in reversed(steps) if s.startswith("USER ")), "root")
    if port is not None and port not in exposed:
        problems.append(f"Dockerfile: EXPOSE {exposed or 'nothing'}, but fly.toml has {port}")
    if port is not None and (cmd is None or str(port) not in cmd):
        problems.append(f"Dockerfile: the final CMD does not serve on internal_port {port}")
    if user in {"root", "0"}:
        problems.append("Dockerfile: the final stage runs as root (add a USER)")
    return {"stages": stages, "expose": exposed, "cmd": cmd, "user": user}


def digest_files(paths: list[Path]) -> dict[str, Any]:
    """Count, bytes and one sha256 over (path, content sha256) of ``paths``."""
    total = hashlib.sha256()
    size = 0
    for path in sorted(paths):
        data = path.read_bytes()
        size += len(data)
        total.update(f"{path.relative_to(ROOT)}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return {"files": len(paths), "bytes": size, "sha256": total.hexdigest()}


def files_under(sources: list[str]) -> list[Path]:
    found: list[Path] = []
    for source in sources:
        base = ROOT / source
        candidates = base.rglob("*") if base.is_dir() else [base]
        found += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts]
    return found


def publish(path: Path) -> None:
    """Inside a Factory OS pipeline stage, keep a copy where the dashboard shows it."""
    stage_dir = os.environ.get("KILROY_STAGE_LOGS_DIR")
    if stage_dir:
        shutil.copyfile(path, Path(stage_dir) / path.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default="deploy-plan.json", help="where to write the plan")
    parser.add_argument("--deploy", action="store_true", help="deploy for real after the dry run")
    args = parser.parse_args()
    problems: list[str] = []
    checks: list[str] = []

    try:
        fly = tomllib.loads((ROOT / "fly.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"fly.toml: {exc}", file=sys.stderr)
        return 1
    schema = json.loads((ROOT / "deploy" / "fly.schema.json").read_text())
    for error in jsonschema.Draft202012Validator(schema).iter_errors(fly):
        where = ".".join(str(p) for p in error.absolute_path) or "(top)"
        problems.append(f"fly.toml: {where}: {error.message}")
    checks.append("fly.toml schema")
    service: dict[str, Any] = (
        fly["http_service"] if isinstance(fly.get("http_service"), dict) else {}
    )
    port = service.get("internal_port") if isinstance(service.get("internal_port"), int) else None

    dockerfile = ROOT / str((fly.get("build") or {}).get("dockerfile", "Dockerfile"))
    image: dict[str, Any] = {}
    if dockerfile.is_file():
        image = dockerfile_plan(dockerfile, port, problems)
        checks.append("Dockerfile build plan")
    else:
        problems.append(f"fly.toml: build.dockerfile {dockerfile.name} does not exist")

    from app.main import create_app
    from app.migrate import migration_files
    from app.store import MemoryStore

    routes = sorted({getattr(r, "path", "") for r in create_app(MemoryStore()).routes} - {""})
    for check in service.get("checks", []):
        if check.get("path") not in routes:
            problems.append(f"fly.toml: health check path {check.get('path')} is not an API route")
    release = str((fly.get("deploy") or {}).get("release_command", ""))
    module = re.match(r"python -m ([\w.]+)", release)
    if release and (
        module is None or not (ROOT / (module.group(1).replace(".", "/") + ".py")).is_file()
    ):
        problems.append(f"fly.toml: release_command {release!r} does not run a module of this repo")
    try:
        migrations = [
            {"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in migration_files()
        ]
        checks.append("migrations named and ordered")
    except ValueError as exc:
        problems.append(f"migrations: {exc}")
        migrations = []

    web: dict[str, Any] = {}
    if not problems:
        npm = shutil.which("npm") or "npm"
        env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}
        done = subprocess.run(
            [npm, "run", "--silent", "build"], cwd=ROOT / "web", env=env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        out_dir = ROOT / "web" / "out"
        if done.returncode != 0 or not (out_dir / "index.html").is_file():
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            problems.append("web: next build failed:\n  " + "\n  ".join(tail))
        else:
            pages = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*.html"))
            web = {"path": "web/out", "pages": pages, **digest_files(files_under(["web/out"]))}
            checks.append("web export built")

    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    copied = [c for stage in image["stages"] for c in stage["copies"] if not c.startswith("web")]
    plan = {
        "app": fly["app"],
        "dryRun": not args.deploy,
        "stack": "stack-py",
        "region": fly["primary_region"],
        "fly": {
            "internal_port": port,
            "release_command": release,
            "checks": [c.get("path") for c in service.get("checks", [])],
        },
        "image": image,
        "migrations": migrations,
        "api": {"routes": routes},
        "web": web,
        "shipped": digest_files(files_under(copied)),
        "deploy": {"command": "flyctl deploy --remote-only", "requires": ["FLY_API_TOKEN"]},
        "checks": checks,
    }
    out = (ROOT / args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan, indent=2) + "\n")
    publish(out)
    print(
        f"deploy dry run ok: {plan['app']} ({len(routes)} routes, {len(migrations)} migrations, "
        f"{web['files']} web files) -> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
    )
    if args.deploy:
        if not os.environ.get("FLY_API_TOKEN"):
            print("--deploy needs FLY_API_TOKEN in the environment (from your secret store)",
                  file=sys.stderr)  # fmt: skip
            return 2
        flyctl = shutil.which("flyctl") or shutil.which("fly")
        if flyctl is None:
            print("--deploy needs flyctl on PATH", file=sys.stderr)
            return 127
        return subprocess.run([flyctl, "deploy", "--remote-only"], cwd=ROOT, check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
