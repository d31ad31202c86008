#!/usr/bin/env bash
# Import image tarballs (`docker save` archives from tools/images/build.sh) into the
# single-node cluster's containerd, in the k8s.io namespace the kubelet uses, so pods
# find them with imagePullPolicy IfNotPresent and no registry. `make images` calls it
# with what build.sh printed. When the cluster is not up it says so and does nothing.
#
#   tools/images/load.sh TAR...
#
# ctr is the node's (NODE_BIN, recorded by tools/cluster/up.sh), or FACTORYOS_CTR.
# Each imported image is labelled with its tarball's name (which carries its build key),
# so loading the same tarball again is skipped. When a tag now names a new image, the
# Deployments running that tag are restarted (`kubectl rollout restart`): the kubelet
# never looks again at a tag it already has, so their pods would keep the old image.
#
# Exit status: 0 loaded, skipped or cluster not up, 1 an import failed, 2 not root or
# no tarball given.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/env.sh
source "$here/../cluster/env.sh"

log() { echo "images: $*" >&2; }
LABEL=dev.factoryos.image-source

[[ $# -gt 0 ]] || { log "usage: tools/images/load.sh TAR... (the tarballs tools/images/build.sh prints)"; exit 2; }
[[ $(id -u) -eq 0 ]] || { log "loading into the node needs root (the node's containerd socket is root's); run it as root"; exit 2; }
if [[ ! -S "$CONTAINERD_SOCKET" ]]; then
  log "the cluster is not up (no $CONTAINERD_SOCKET): not loading; make cluster-up, then make images again"
  exit 0
fi
ctr="${FACTORYOS_CTR:-}"
if [[ -z "$ctr" ]]; then
  node_bin="$(cat "$CLUSTER_DIR/conf/node-bin" 2>/dev/null || bash "$here/../cluster/build.sh")"
  ctr="$node_bin/ctr"
fi
[[ -x "$ctr" ]] || { log "no ctr at $ctr (set FACTORYOS_CTR)"; exit 1; }
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
node_ctr() { "$ctr" --address "$CONTAINERD_SOCKET" -n k8s.io "$@" 2>"$errors"; }

image_ref() {  # TAG: the node's reference for a docker-save tag (its normalized name)
  node_ctr images ls | awk -v tag="$1" 'NR > 1 && ($1 == tag || substr($1, length($1) - length(tag)) == "/" tag) {print $1}'
}

replaced=()
for tar in "$@"; do
  [[ -f "$tar" ]] || { log "no such tarball: $tar"; exit 1; }
  source_name="$(basename "$tar" .tar)"
  tags="$(tar -xOf "$tar" manifest.json | python3 -c 'import json, sys; print(" ".join(t for m in json.load(sys.stdin) for t in m.get("RepoTags") or []))')"
  [[ -n "$tags" ]] || { log "$tar names no image (no RepoTags in its manifest.json)"; exit 1; }
  loaded=1
  for tag in $tags; do
    ref="$(image_ref "$tag")"
    if [[ -z "$ref" ]] || ! node_ctr images ls "name==$ref" | grep -qF "$LABEL=$source_name"; then loaded=0; fi
  done
  if ((loaded)); then
    log "$tags: already in the node ($source_name)"
    continue
  fi
  started=$SECONDS
  if ! node_ctr images import --local "$tar" >/dev/null; then
    log "importing $tar into the node failed: $(grep -v 'level=warning' "$errors" | tail -n 3 | tr '\n' ' ')"
    exit 1
  fi
  for tag in $tags; do
    ref="$(image_ref "$tag")"
    [[ -n "$ref" ]] || { log "imported $tar, but the node lists no $tag"; exit 1; }
    node_ctr images label "$ref" "$LABEL=$source_name" >/dev/null
  done
  log "$tags: loaded into the node in $((SECONDS - started))s ($source_name)"
  replaced+=($tags)
done

# Deployments whose containers run a replaced tag: restart them onto the new image.
((${#replaced[@]})) || exit 0
kubectl="$(bash "$here/../k8s/build.sh")/kubectl"
k() { "$kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" --context "$CLUSTER_CONTEXT" "$@"; }
k get deployments -A -o json 2>/dev/null | python3 -c '
import json, sys
tags = set(sys.argv[1:])
for d in json.load(sys.stdin)["items"]:
    images = {c["image"] for c in d["spec"]["template"]["spec"]["containers"]}
    if images & tags:
        print(d["metadata"]["namespace"], d["metadata"]["name"])
' "${replaced[@]}" | while read -r ns name; do
  k -n "$ns" rollout restart "deployment/$name" >/dev/null && log "restarted deployment $ns/$name onto the new image"
done
