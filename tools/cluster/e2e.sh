#!/usr/bin/env bash
# `make e2e`: the full-system tests (tests/e2e) on a real cluster, brought up and down here.
#
# On this project's machines (root, cgroups, network namespaces) the tier is the
# single-node cluster: `make cluster-up images deploy`, the tests (in parallel:
# most of their time is pods sleeping through pipeline stages), then
# `make cluster-down` (unless the cluster was already up, or FACTORYOS_E2E_KEEP=1).
# Elsewhere, kind where a Docker engine runs. Where neither can run, pytest still
# runs and each test is skipped with the reasons.
#
#   tools/cluster/e2e.sh [PYTEST ARGS...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# Two passes: the tests that share the operator and the dashboard in parallel, then the
# ones that restart them (marked disruptive) alone.
pytest() {
  local status=0
  .venv/bin/pytest tests/e2e -rs -n "${FACTORYOS_E2E_WORKERS:-4}" -m "not disruptive" "$@" || status=$?
  .venv/bin/pytest tests/e2e -rs -m disruptive "$@" || { local s=$?; ((status)) || status=$s; }
  return "$status"
}

if bash tools/cluster/up.sh --check >/dev/null 2>&1 && [[ "${FACTORYOS_E2E_TIER:-node}" == node ]]; then
  was_up=0
  bash tools/cluster/status.sh >/dev/null 2>&1 && was_up=1
  if (( !was_up )) && [[ "${FACTORYOS_E2E_KEEP:-0}" != 1 ]]; then
    trap 'make --no-print-directory cluster-down' EXIT
  fi
  make --no-print-directory cluster-up images deploy
  FACTORYOS_E2E_TIER=node FACTORYOS_E2E_MANAGED=1 pytest "$@"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  make --no-print-directory kind-up images kind-load deploy CONTEXT=kind-factoryos
  FACTORYOS_E2E_TIER=kind FACTORYOS_E2E_MANAGED=1 pytest "$@"
else
  pytest "$@"
fi
