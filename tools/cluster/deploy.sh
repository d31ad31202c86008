#!/usr/bin/env bash
# `make deploy`: install Factory OS onto a cluster exactly as a user would on any
# cluster, then wait for it and say where to look. Defaults to the single-node cluster
# of this folder (context factoryos-local); --context names any other.
#
#   tools/cluster/deploy.sh [--with kustomize|helm] [--context CTX] [--namespace NS]
#                           [--voice cpu|gpu|off] [--timeout SECONDS]
#   tools/cluster/deploy.sh --uninstall [--with kustomize|helm] [--context CTX] [--namespace NS]
#
# kustomize: the namespace, then the dashboard's Secret (keys token and ingest-key,
#   random hex) when missing, then `kubectl apply --server-side -k manifests/` and
#   `-k manifests/voice-cpu` (or manifests/voice on a GPU node) after the voice
#   service's Secret factoryos-voice (key token, random hex) when missing. The Secret comes before
#   the Deployments so the operator starts with the ingest key. Namespace factoryos-system
#   only (the manifests name it).
# helm: `helm upgrade --install factoryos helm/factoryos -n default --set
#   namespace.name=NS --set voice.enabled=true --set voice.gpu=false`. The chart makes
#   the namespace (with its Pod Security labels) and the Secret, so the release record
#   lives elsewhere (`default`): Helm stores it before anything of the chart exists, and
#   `--create-namespace` would make a namespace the chart could not own.
# Both wait for the operator, the dashboard (and voice) rollouts; on a timeout they print
# the pods' states and the namespace's last events and exit 1.
#
# --uninstall removes what the same --with installed: every Run and Product (first,
# while the operator is there to drop its finalizers), the voice service, the rest,
# waits for the namespace to go, then the CRDs (kopf's only when no peering object is
# left). Idempotent both ways. Exit status: 0 done, 1 failed (with the reason), 2 bad
# arguments (one line).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

usage="usage: deploy.sh [--uninstall] [--with kustomize|helm] [--context CTX] [--namespace NS] [--voice cpu|gpu|off] [--timeout SECONDS]"
bad() { echo "deploy: $*; $usage" >&2; exit 2; }
fail() { echo "deploy: $*" >&2; exit 1; }
say() { echo "deploy: $*" >&2; }

with=kustomize with_given=0 context="$CLUSTER_CONTEXT" ns=factoryos-system voice=cpu timeout=300 uninstall=0
while (($#)); do
  case "$1" in
    --with | --context | --namespace | --voice | --timeout)
      (($# >= 2)) && [[ -n "$2" ]] || bad "$1 needs a value"
      case "$1" in
        --with) with="$2" with_given=1 ;;
        --context) context="$2" ;;
        --namespace) ns="$2" ;;
        --voice) voice="$2" ;;
        --timeout) timeout="$2" ;;
      esac
      shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) bad "unknown argument '$1'" ;;
  esac
done
[[ "$with" == kustomize || "$with" == helm ]] || bad "--with takes kustomize or helm, not '$with'"
[[ "$voice" == cpu || "$voice" == gpu || "$voice" == off ]] || bad "--voice takes cpu, gpu or off, not '$voice'"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || bad "--timeout takes a number of seconds, not '$timeout'"
[[ "$ns" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || bad "'$ns' is not a namespace name"
[[ "$with" == helm || "$ns" == factoryos-system ]] ||
  bad "--namespace works with --with helm only (the kustomize manifests name factoryos-system)"

RELEASE=factoryos
RELEASE_NS=default  # where Helm keeps the release record (see above)
KUBECTL="${KUBECTL:-$(bash "$root/tools/k8s/build.sh")/kubectl}"
k() { "$KUBECTL" --context "$context" "$@"; }
h() { "$HELM" --kube-context "$context" "$@"; }
[[ "$with" == helm ]] && HELM="${HELM:-$(bash "$root/tools/k8s/helm.sh")}"

# The single-node cluster's context is also in its own kubeconfig (e.g. under sudo,
# where ~/.kube/config is root's).
if ! "$KUBECTL" config get-contexts "$context" >/dev/null 2>&1; then
  if [[ "$context" == "$CLUSTER_CONTEXT" && -r "$CLUSTER_KUBECONFIG" ]]; then
    export KUBECONFIG="$CLUSTER_KUBECONFIG"
  else
    fail "no context '$context' in ${KUBECONFIG:-$HOME/.kube/config} (make cluster-up makes $CLUSTER_CONTEXT)"
  fi
fi
k get --raw /readyz >/dev/null 2>&1 || fail "the API server of context '$context' does not answer (make cluster-status)"

# How the namespace was installed: helm, kustomize, or none. Switching needs an uninstall.
installed_with() {
  local managed
  managed="$(k get namespace "$ns" -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}' 2>/dev/null)" || { echo none; return; }
  [[ "$managed" == Helm ]] && echo helm || echo kustomize
}
current="$(installed_with)"
if [[ "$current" != none && "$current" != "$with" ]]; then
  if ((uninstall && !with_given)); then
    with="$current"
    [[ "$with" == helm ]] && HELM="${HELM:-$(bash "$root/tools/k8s/helm.sh")}"
  else
    fail "namespace $ns exists and was $([[ $current == helm ]] && echo "made by Helm" || echo "not made by Helm"); remove that install first: $0 --uninstall --with $current --context $context --namespace $ns"
  fi
fi

# ---------------------------------------------------------------------------- uninstall

crd_exists() { k get crd "$1" >/dev/null 2>&1; }

delete_custom_resources() {  # while the operator still runs: it drops their finalizers
  local kind
  for kind in runs.factoryos.dev products.factoryos.dev; do
    crd_exists "$kind" || continue
    [[ -n "$(k get "$kind" -A -o name 2>/dev/null)" ]] || continue
    say "deleting all ${kind%%.*} in every namespace (the operator drops their finalizers)"
    if ! k delete "$kind" --all -A --wait --timeout="${timeout}s" >&2; then
      k get "$kind" -A -o custom-columns='NAMESPACE:.metadata.namespace,NAME:.metadata.name,FINALIZERS:.metadata.finalizers' >&2 || true
      fail "these ${kind%%.*}s are still there after ${timeout}s (their finalizers need the operator: is it running? kubectl -n $ns get pods); nothing else was removed"
    fi
  done
}

wait_namespace_gone() {
  k get namespace "$ns" >/dev/null 2>&1 || return 0
  say "waiting for namespace $ns to go"
  if ! k wait --for=delete "namespace/$ns" --timeout="${timeout}s" >/dev/null 2>&1; then
    k get namespace "$ns" -o jsonpath='{range .status.conditions[*]}{.type}: {.message}{"\n"}{end}' >&2 || true
    fail "namespace $ns is still there after ${timeout}s (above: why)"
  fi
}

delete_crds() {
  local crd
  for crd in runs.factoryos.dev products.factoryos.dev; do
    crd_exists "$crd" && k delete crd "$crd" --wait --timeout="${timeout}s" >&2
  done
  # kopf's peering CRDs may serve other kopf operators: only when nothing uses them.
  if crd_exists clusterkopfpeerings.kopf.dev || crd_exists kopfpeerings.kopf.dev; then
    if [[ -z "$(k get clusterkopfpeerings.kopf.dev,kopfpeerings.kopf.dev -A -o name 2>/dev/null)" ]]; then
      k delete crd clusterkopfpeerings.kopf.dev kopfpeerings.kopf.dev --ignore-not-found --wait --timeout="${timeout}s" >&2
    else
      say "keeping kopf's peering CRDs: peering objects still use them"
    fi
  fi
}

without_crds() {  # kustomize output on stdin, less its CustomResourceDefinitions
  awk 'function flush() { if (doc != "" && !crd) printf "---\n%s", doc; doc = ""; crd = 0 }
       /^---$/ { flush(); next }
       /^kind: CustomResourceDefinition$/ { crd = 1 }
       { doc = doc $0 "\n" }
       END { flush() }'
}

if ((uninstall)); then
  started=$SECONDS
  delete_custom_resources
  if [[ "$with" == helm ]]; then
    if h status "$RELEASE" -n "$RELEASE_NS" >/dev/null 2>&1; then
      say "helm uninstall $RELEASE (release namespace $RELEASE_NS)"
      h uninstall "$RELEASE" -n "$RELEASE_NS" --wait --timeout "${timeout}s" >&2
    fi
  else
    say "deleting the voice service and the base (CRDs last)"
    k delete -k "$root/manifests/voice" --ignore-not-found --wait=false >&2
    k kustomize "$root/manifests" | without_crds | k delete -f - --ignore-not-found --wait=false >&2
  fi
  wait_namespace_gone
  delete_crds
  echo "Factory OS removed from context $context ($with) in $((SECONDS - started))s"
  exit 0
fi

# ------------------------------------------------------------------------------ install

random_hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

started=$SECONDS
deployments=(factoryos-operator factoryos-dashboard)
[[ "$voice" != off ]] && deployments+=(factoryos-voice)
apply=(apply --server-side --field-manager=factoryos-deploy --force-conflicts)

if [[ "$with" == kustomize ]]; then
  k "${apply[@]}" -f "$root/manifests/namespace.yaml" >&2 || fail "could not apply manifests/namespace.yaml (above: why)"
  if ! k -n "$ns" get secret factoryos-dashboard >/dev/null 2>&1; then
    say "making the dashboard's Secret factoryos-dashboard (token, ingest-key)"
    k -n "$ns" create secret generic factoryos-dashboard \
      --from-literal=token="$(random_hex)" --from-literal=ingest-key="$(random_hex)" >&2
  fi
  k "${apply[@]}" -k "$root/manifests" >&2 || fail "kubectl apply -k manifests/ failed (above: why)"
  if [[ "$voice" != off ]] && ! k -n "$ns" get secret factoryos-voice >/dev/null 2>&1; then
    say "making the voice service's Secret factoryos-voice (token)"
    k -n "$ns" create secret generic factoryos-voice --from-literal=token="$(random_hex)" >&2
  fi
  case "$voice" in
    cpu) k "${apply[@]}" -k "$root/manifests/voice-cpu" >&2 || fail "kubectl apply -k manifests/voice-cpu failed (above: why)" ;;
    gpu) k "${apply[@]}" -k "$root/manifests/voice" >&2 || fail "kubectl apply -k manifests/voice failed (above: why)" ;;
  esac
else
  values=(--set "namespace.name=$ns")
  case "$voice" in
    cpu) values+=(--set voice.enabled=true --set voice.gpu=false) ;;
    gpu) values+=(--set voice.enabled=true --set voice.gpu=true) ;;
    off) values+=(--set voice.enabled=false) ;;
  esac
  say "helm upgrade --install $RELEASE helm/factoryos -n $RELEASE_NS ${values[*]}"
  h upgrade --install "$RELEASE" "$root/helm/factoryos" -n "$RELEASE_NS" "${values[@]}" >&2 ||
    fail "helm upgrade --install failed (above: why); $0 --uninstall --with helm removes what it left"
fi

explain() {  # why a rollout did not finish: the pods' states and the last events
  say "deployment/$1 in $ns is not ready after ${timeout}s; its namespace's pods and last events:"
  k -n "$ns" get deploy,rs,pods -o wide >&2 || true
  k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}:{range .status.containerStatuses[*]} {.name} ready={.ready} restarts={.restartCount} state={.state}{end}{"\n"}{end}' >&2 || true
  k -n "$ns" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
}

deadline=$((SECONDS + timeout))
for name in "${deployments[@]}"; do
  left=$((deadline - SECONDS))
  ((left > 0)) || left=1
  if ! k -n "$ns" rollout status "deployment/$name" --timeout="${left}s" >/dev/null 2>&1; then
    explain "$name"
    fail "deployment/$name did not roll out within ${timeout}s (above: the pods and events)"
  fi
  say "deployment/$name ready ($((SECONDS - started))s)"
done

cat <<EOF
Factory OS is running in namespace $ns of context $context ($with, $((SECONDS - started))s):
  pods:      kubectl --context $context -n $ns get pods
  dashboard: kubectl --context $context -n $ns port-forward svc/factoryos-dashboard 8400   # then http://127.0.0.1:8400/
  token:     kubectl --context $context -n $ns get secret factoryos-dashboard -o jsonpath='{.data.token}' | base64 -d
EOF
[[ "$voice" != off ]] && echo "  voice:     http://factoryos-voice.$ns.svc:8500 in the cluster (kubectl -n $ns port-forward svc/factoryos-voice 8500)"
echo "  remove:    $0 --uninstall --with $with --context $context$([[ "$ns" != factoryos-system ]] && echo " --namespace $ns")"
