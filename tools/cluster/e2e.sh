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
KUBECTL="$(bash tools/k8s/build.sh)/kubectl"
# shellcheck source=env.sh
source "$here/env.sh"
# Two passes: the tests that share the operator and the dashboard in parallel, then the
# ones that restart them (marked disruptive) one at a time. With a cluster (install_with given),
# the first pass runs on the kustomize install and the second on the Helm one, with the
# smoke product again (marked every_install), so both ways of installing run Runs.
pytest() {  # pytest [install_with] -- PYTEST ARGS...
  local install_with="$1" status=0
  shift 2
  [[ -n "$install_with" ]] && install kustomize
  .venv/bin/pytest tests/e2e -rs -n "${FACTORYOS_E2E_WORKERS:-4}" -m "not disruptive" "$@" || status=$?
  local second="disruptive"
  if [[ -n "$install_with" ]]; then
    install helm
    second="disruptive or every_install"
  fi
  .venv/bin/pytest tests/e2e -rs -m "$second" "$@" || { local s=$?; ((status)) || status=$s; }
  return "$status"
}

install() {  # install kustomize|helm: deploy that way, removing the other way's install first
  local with="$1" label current=none
  if label="$(kubectl_to "$CONTEXT" get namespace factoryos-system \
      -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}' 2>/dev/null)"; then
    [[ "$label" == Helm ]] && current=helm || current=kustomize
  fi
  if [[ "$current" != none && "$current" != "$with" ]]; then
    make --no-print-directory undeploy DEPLOY_WITH="$current" CONTEXT="$CONTEXT"
  fi
  make --no-print-directory deploy DEPLOY_WITH="$with" CONTEXT="$CONTEXT"
}

kubectl_to() {  # kubectl_to CONTEXT ARGS...: the single node's context is in its own kubeconfig
  local context="$1"
  shift
  if "$KUBECTL" config get-contexts "$context" >/dev/null 2>&1; then
    "$KUBECTL" --context "$context" "$@"
  else
    "$KUBECTL" --kubeconfig "$CLUSTER_KUBECONFIG" --context "$context" "$@"
  fi
}

if bash tools/cluster/up.sh --check >/dev/null 2>&1 && [[ "${FACTORYOS_E2E_TIER:-node}" == node ]]; then
  was_up=0
  bash tools/cluster/status.sh >/dev/null 2>&1 && was_up=1
  if (( !was_up )) && [[ "${FACTORYOS_E2E_KEEP:-0}" != 1 ]]; then
    trap 'make --no-print-directory cluster-down' EXIT
  fi
  make --no-print-directory cluster-up images
  CONTEXT="$CLUSTER_CONTEXT"
  FACTORYOS_E2E_TIER=node FACTORYOS_E2E_MANAGED=1 pytest both -- "$@"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  make --no-print-directory kind-up images kind-load
  CONTEXT=kind-factoryos
  FACTORYOS_E2E_TIER=kind FACTORYOS_E2E_MANAGED=1 pytest both -- "$@"
else
  pytest "" -- "$@"
fi
