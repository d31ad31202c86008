#!/usr/bin/env bash
# Build kube-apiserver, kubectl and etcd from their Go modules at the versions pinned in
# tools/k8s/versions.env, into a per-user cache keyed by every input; print the bin folder.
#
#   tools/k8s/build.sh            # prints e.g. ~/.cache/factoryos/k8s/k8s-v1.36.3_etcd-v3.6.8_go1.26.8_linux-amd64/bin
#
# `go install k8s.io/kubernetes/cmd/...@v` is refused (its go.mod replaces the staging
# modules with ./staging paths), so a throwaway wrapper module requires k8s.io/kubernetes
# and replaces each staging module with its published k8s.io/<name> version, derived from
# Kubernetes' own go.mod at build time. etcd gets its own wrapper so the two dependency
# graphs never mix. A stamp file (versions plus sha256 of each binary) marks a good build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
command -v go >/dev/null || { echo "Go >= 1.26 is needed to build the Kubernetes test binaries" >&2; exit 1; }

cache="${FACTORYOS_CACHE:-$HOME/.cache/factoryos}"
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_$(go env GOVERSION)_$(go env GOOS)-$(go env GOARCH)"
root="$cache/k8s/$key"
bin="$root/bin"
stamp="$bin/.stamp"
binaries=(kube-apiserver kubectl etcd)

stamp_text() {
  echo "k8s=$K8S_VERSION staging=$K8S_STAGING_VERSION etcd=$ETCD_VERSION go=$(go env GOVERSION)"
  for b in "${binaries[@]}"; do sha256sum "$bin/$b"; done
}

if [[ -f "$stamp" ]] && [[ "$(stamp_text 2>/dev/null)" == "$(cat "$stamp")" ]]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
mkdir -p "$bin"
log() { echo "k8s-bin: $*" >&2; }

# -- Kubernetes: kube-apiserver and kubectl --------------------------------------------
k8s_src="$root/src/kubernetes"
rm -rf "$k8s_src"
mkdir -p "$k8s_src"
cd "$k8s_src"
go mod init factoryos.local/k8s-test-binaries >/dev/null 2>&1
go mod edit -go=1.26.0
log "reading k8s.io/kubernetes@$K8S_VERSION's go.mod ..."
gomod="$(go list -m -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
staging="$(go mod edit -json "$gomod" | python3 -c '
import json, sys
mod = json.load(sys.stdin)
names = sorted(r["Old"]["Path"] for r in mod.get("Replace") or [] if r["New"]["Path"].startswith("./staging/"))
print("\n".join(names))
')"
[[ -n "$staging" ]] || { log "found no ./staging replace entries in $gomod"; exit 1; }
log "$(wc -l <<<"$staging") staging modules, each replaced with its $K8S_STAGING_VERSION release"
go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
while read -r name; do
  go mod edit -replace="$name=$name@$K8S_STAGING_VERSION"
done <<<"$staging"
log "resolving modules (first time: downloads) ..."
go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done
for b in kube-apiserver kubectl; do
  log "building $b $K8S_VERSION (a cold build takes minutes) ..."
  start=$SECONDS
  go build -trimpath -ldflags "$ldflags" -o "$bin/$b" "k8s.io/kubernetes/cmd/$b"
  log "$b built in $((SECONDS - start))s"
done

# -- etcd ---------------------------------------------------------------------------------
etcd_src="$root/src/etcd"
rm -rf "$etcd_src"
mkdir -p "$etcd_src"
cd "$etcd_src"
go mod init factoryos.local/etcd-test-binary >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
log "building etcd $ETCD_VERSION ..."
start=$SECONDS
go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
  -o "$bin/etcd" go.etcd.io/etcd/server/v3
log "etcd built in $((SECONDS - start))s"

"$bin/kube-apiserver" --version >&2
"$bin/kubectl" version --client >&2
"$bin/etcd" --version >&2
stamp_text >"$stamp"
echo "$bin"
