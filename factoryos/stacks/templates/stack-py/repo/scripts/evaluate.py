"""The pipeline's evaluate stage: serve what a deploy ships and run the public checks.

    .venv/bin/python scripts/evaluate.py [--out public-checks.json]

``scripts/serve`` builds and serves the app on a free port; the checks in
``evals/checks.json`` (visible to everyone, agents included) run against it.
The factory's hidden holdout scenarios live outside this repository and are
run by the factory alone. Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def run_check(base: str, check: dict[str, Any]) -> str | None:
    status, body = fetch(base + check["path"], check.get("method", "GET"))
    if status != check.get("status", 200):
        return f"status {status}, expected {check.get('status', 200)}"
    missing = [text for text in check.get("contains", []) if text not in body]
    return f"body lacks {missing}" if missing else None


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default="public-checks.json")
    args = parser.parse_args()
    checks: list[dict[str, Any]] = json.loads((ROOT / "evals" / "checks.json").read_text())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(ROOT / "scripts" / "serve")],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if server.poll() is not None:
                print(f"evaluate: scripts/serve exited {server.returncode}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"evaluate: not ready within {START_SECONDS}s", file=sys.stderr)
                return 1
            try:
                if fetch(base + "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        results = []
        for check in checks:
            problem = run_check(base, check)
            results.append({"name": check["name"], "passed": problem is None, "problem": problem})
            print(f"{'pass' if problem is None else 'FAIL'}  {check['name']}"
                  + (f": {problem}" if problem else ""))  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    failed = sum(1 for r in results if not r["passed"])
    report = {"checks": results, "passed": len(results) - failed, "failed": failed}
    out = ROOT / args.out
    out.write_text(json.dumps(report, indent=2) + "\n")
    stage_dir = os.environ.get("KILROY_STAGE_LOGS_DIR")  # inside a Factory OS pipeline stage:
    if stage_dir:  # keep a copy where the dashboard shows it
        shutil.copyfile(out, Path(stage_dir) / out.name)
    print(f"{len(results) - failed}/{len(results)} checks passed -> {args.out}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
