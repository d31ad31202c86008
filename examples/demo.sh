#!/usr/bin/env bash
# The embedded factory end to end (what `make demo` runs): start the control
# plane, register the smoke product, run it with the scripted agent (no LLM,
# no network), follow its events, and print the result and where to look.
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
exit "$status"
