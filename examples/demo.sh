#!/usr/bin/env bash
# The embedded factory end to end (what `make demo` runs): start the control
# plane, register the smoke product, run it with the scripted agent (no LLM,
# no network), follow its events, and print the result and where to look. Then
# the self-verifying loop: the quality product with K=3 candidates of known
# quality (a scripted stand-in builds them: one broken, one partial, one correct),
# the verifiers screening out the broken one, selection on the selection pool of
# hidden holdout scenarios, the sequential acceptance test on distinct instances of the
# acceptance pool (scenario generators), and the winner merged into main.
#
#   examples/demo.sh            # FACTORYOS_HOME defaults to ~/.factoryos
#
# Needs `sf` and `kilroy` on PATH (make demo arranges both). Safe to rerun:
# the product is applied idempotently and each run gets a new name. The factory it
# starts keeps running afterwards so the dashboard can be looked at
# (FACTORYOS_DEMO_STOP=1 stops it at the end; FACTORYOS_DASHBOARD_PORT picks the port).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${FACTORYOS_HOME:-$HOME/.factoryos}"
export FACTORYOS_HOME="$home"
demo="$home/demo"
repo="$demo/products/smoke"
run="smoke-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$demo"

echo "== the smoke product's repository: $repo"
rm -rf "$repo"
mkdir -p "$repo"
cp -R "$here/products/smoke/." "$repo/"
find "$repo" -name __pycache__ -prune -exec rm -rf {} +
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name="Factory OS demo" -c user.email=demo@factoryos.invalid \
  commit -qm "smoke product from examples/products/smoke"

started=""
if flock -n "$home/controlplane.lock" true; then  # nobody holds the lock: no sf up running
  echo "== sf up (control plane + dashboard, in the background; log: $demo/sf-up.log)"
  (umask 077; exec nohup sf up --port "${FACTORYOS_DASHBOARD_PORT:-8400}" >>"$demo/sf-up.log" 2>&1) &
  started=$!
  if [[ "${FACTORYOS_DEMO_STOP:-0}" == 1 ]]; then
    trap 'kill -INT "$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
  fi
  for _ in $(seq 1 100); do
    flock -n "$home/controlplane.lock" true 2>/dev/null || break
    sleep 0.1
  done
else
  echo "== using the control plane already running for $home"
fi

echo "== sf apply -f - (Product smoke, scripted test_shim agent)"
sf apply -f - <<YAML
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata:
  name: smoke
spec:
  repo:
    path: $repo
  pipeline: pipeline.dot
  engine:
    agentProfile: test_shim
    agentExecutable: $here/pipelines/agents/scripted-agent
YAML

echo "== sf run start smoke --wait"
status=0
sf run start smoke --name "$run" --goal "Switch on the health endpoint and ship a deploy plan" --wait || status=$?

clone="$home/runs/default/$run/c0/repo"
branch="factory/$run/c0"
echo
echo "Where to look:"
echo "  run status:        sf run status $run        (-o yaml for everything)"
echo "  events:            sf run logs $run          ($home/runs/default/$run/events.ndjson)"
echo "  Kilroy logs_root:  $home/runs/default/$run/c0/logs"
echo "  the change:        git -C $clone log --oneline $branch"
echo "  the deploy plan:   git -C $clone show $branch:deploy-plan.json"
dashboard="$(grep -o 'dashboard at http[^ ]*' "$demo/sf-up.log" 2>/dev/null | tail -n1 | cut -d' ' -f3 || true)"
if [[ -n "$dashboard" ]]; then
  echo "  the dashboard:     ${dashboard}runs/default/$run   (sign in with the token in $home/dashboard-token)"
fi
if [[ -n "$started" && "${FACTORYOS_DEMO_STOP:-0}" != 1 ]]; then
  echo "  the factory keeps running (sf up, pid $started); stop it with: kill -INT $started"
fi
if [[ $status -eq 0 ]]; then
  echo
  echo "features.txt on the run branch:"
  git -C "$clone" show "$branch:features.txt" | sed 's/^/  /'
fi
[[ $status -eq 0 ]] || exit "$status"

# --- the self-verifying loop ---------------------------------------------------------
quality="$demo/products/quality"
holdouts="$demo/holdouts/quality"   # outside the repository: candidates never see them
qrun="quality-$(date +%Y%m%d-%H%M%S)"
echo
echo "== the quality product: $quality (c0 broken, c1 partial, c2 correct; holdouts in $holdouts)"
rm -rf "$quality" "$holdouts"
mkdir -p "$quality" "$(dirname "$holdouts")"
cp -R "$here/products/quality/." "$quality/"
cp -R "$here/holdouts/quality" "$holdouts"
find "$quality" -name __pycache__ -prune -exec rm -rf {} +
printf '{"0": "broken", "1": "partial", "2": "correct"}\n' >"$quality/variants.json"
git -C "$quality" init -q -b main
git -C "$quality" add -A
git -C "$quality" -c user.name="Factory OS demo" -c user.email=demo@factoryos.invalid \
  commit -qm "quality product from examples/products/quality"

echo "== sf apply -f - (Product quality: K=3, verifiers, holdouts, gate target 0.9 at alpha 0.05)"
sf apply -f - <<YAML
apiVersion: factoryos.dev/v1alpha1
kind: Product
metadata:
  name: quality
spec:
  repo:
    path: $quality
  candidates: 3
  verifiers:
    typecheck: [{name: compile, command: "python3 -m py_compile greet.py"}]
    unit: [{name: check, command: "python3 check.py"}]
  holdouts: {path: $holdouts}
  acceptance: {target: 0.9, alpha: 0.05}
YAML

echo "== sf run start quality --wait"
qstatus=0
sf run start quality --name "$qrun" --goal "Greet people by name" --wait >"$demo/$qrun.log" 2>&1 || qstatus=$?
tail -n 3 "$demo/$qrun.log"
echo
sf run status "$qrun" -o json >"$demo/$qrun.json"
python3 - "$demo/$qrun.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1])).get("status", {})
print("The loop, step by step:")
for c in status.get("candidates", []):
    failed = [v["name"] for v in c.get("verifiers", []) if not v.get("passed")]
    detail = "verifiers failed: " + ", ".join(failed) if failed else ""
    if c.get("trials"):
        detail = f"{c.get('passes')}/{c.get('trials')} selection scenarios passed"
    print(f"  c{c['index']}  {c['phase']:<12} {detail}")
print(f"  phase: {status.get('phase')}: {status.get('message') or ''}")
PY
sf run status "$qrun" | sed -n 's/^Gate: */  gate: /p'
echo
echo "  the merge:         git -C $quality log --oneline -3 main"
git -C "$quality" log --oneline -3 main | sed 's/^/    /'
if [[ -n "$dashboard" ]]; then
  echo "  in the dashboard:  ${dashboard}runs/default/$qrun   (candidates, screening, halving rounds, the gate)"
fi
echo "  the evaluation:    $home/runs/default/$qrun/evaluations/i1/report.md"
exit "$qstatus"
