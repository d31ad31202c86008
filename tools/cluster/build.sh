#!/usr/bin/env bash
# Build the node's binaries for the single-node cluster (`make cluster-up` calls it):
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy from k8s.io/kubernetes,
# containerd (with its runc shim and ctr) from its Go module, CoreDNS from its Go module,
# and a tiny static pause program for the sandbox image. The apiserver, kubectl and etcd
# come from tools/k8s/build.sh. Everything is cached under a key made of every pinned
# version (tools/k8s/versions.env) and the Go toolchain; prints the bin folder.
#
#   tools/cluster/build.sh     # e.g. ~/.cache/factoryos/node/k8s-v1.36.3_containerd-v2.2.9_coredns-v1.14.7_go1.26.8_linux-amd64/bin
#
# Cold: about 10 minutes on 2 cores (the Kubernetes binaries are most of it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
command -v go >/dev/null || { echo "Go >= 1.26 is needed to build the node's binaries" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc is needed to build the pause program" >&2; exit 1; }

key="k8s-${K8S_VERSION}_containerd-${CONTAINERD_VERSION}_coredns-${COREDNS_VERSION}_$(go env GOVERSION)_$(go env GOOS)-$(go env GOARCH)"
root="$CACHE/node/$key"
bin="$root/bin"
stamp="$bin/.stamp"
binaries=(kubelet kube-controller-manager kube-scheduler kube-proxy containerd containerd-shim-runc-v2 ctr coredns pause)

stamp_text() {
  echo "k8s=$K8S_VERSION containerd=$CONTAINERD_VERSION coredns=$COREDNS_VERSION go=$(go env GOVERSION)"
  for b in "${binaries[@]}"; do sha256sum "$bin/$b"; done
}
if [[ -f "$stamp" ]] && [[ "$(stamp_text 2>/dev/null)" == "$(cat "$stamp")" ]]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
mkdir -p "$bin"
log() { echo "node-bin: $*" >&2; }
timed_build() {  # OUT PACKAGE [go build flags...]
  local out="$1" pkg="$2" start=$SECONDS
  shift 2
  log "building $out ..."
  go build -trimpath "$@" -o "$bin/$out" "$pkg"
  log "$out built in $((SECONDS - start))s"
}

# -- Kubernetes node components: the same wrapper module as tools/k8s/build.sh ----------
k8s_bin="$(bash "$here/../k8s/build.sh")"
k8s_src="$(dirname "$k8s_bin")/src/kubernetes"
[[ -f "$k8s_src/go.mod" ]] || { log "no wrapper module at $k8s_src"; exit 1; }
k8s_node_src="$root/src/kubernetes"
rm -rf "$k8s_node_src"
mkdir -p "$k8s_node_src"
cp "$k8s_src/go.mod" "$k8s_src/go.sum" "$k8s_node_src/"
cd "$k8s_node_src"
components=(kubelet kube-controller-manager kube-scheduler kube-proxy)
log "resolving modules for ${components[*]} ..."
go get $(printf "k8s.io/kubernetes/cmd/%s@$K8S_VERSION " "${components[@]}") >&2
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done
for b in "${components[@]}"; do
  timed_build "$b" "k8s.io/kubernetes/cmd/$b" -ldflags "$ldflags"
done

# -- containerd ---------------------------------------------------------------------------
src="$root/src/containerd"
rm -rf "$src" && mkdir -p "$src" && cd "$src"
go mod init factoryos.local/containerd >/dev/null 2>&1
mod=github.com/containerd/containerd/v2
go get "$mod/cmd/containerd@$CONTAINERD_VERSION" "$mod/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
  "$mod/cmd/ctr@$CONTAINERD_VERSION" >&2
cldflags="-s -w -X $mod/version.Version=$CONTAINERD_VERSION"
for b in containerd containerd-shim-runc-v2 ctr; do
  timed_build "$b" "$mod/cmd/$b" -tags "no_btrfs no_devmapper no_zfs" -ldflags "$cldflags"
done

# -- CoreDNS --------------------------------------------------------------------------------
src="$root/src/coredns"
rm -rf "$src" && mkdir -p "$src" && cd "$src"
go mod init factoryos.local/coredns >/dev/null 2>&1
go get "github.com/coredns/coredns@$COREDNS_VERSION" >&2
timed_build coredns github.com/coredns/coredns -ldflags "-s -w"

# -- pause: the sandbox image's one program ----------------------------------------------
cat >"$root/src/pause.c" <<'C'
/* The pod sandbox's process: sleep until told to stop. */
#include <signal.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  for (;;) pause();
}
C
gcc -static -O2 -o "$bin/pause" "$root/src/pause.c"

"$bin/kubelet" --version >&2
"$bin/containerd" --version >&2
"$bin/coredns" -version >&2
stamp_text >"$stamp"
echo "$bin"
