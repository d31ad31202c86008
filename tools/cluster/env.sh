# Shared names and paths of the single-node cluster (sourced by tools/cluster/*.sh and
# tools/images/*.sh). Every piece of state lives under CLUSTER_DIR; builds are cached
# under CACHE, keyed by the pinned versions in tools/k8s/versions.env.
# shellcheck shell=bash
CLUSTER_TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../k8s/versions.env
source "$CLUSTER_TOOLS/../k8s/versions.env"
CACHE="${FACTORYOS_CACHE:-$HOME/.cache/factoryos}"
CLUSTER_DIR="${FACTORYOS_CLUSTER_DIR:-/var/lib/factoryos-cluster}"
CLUSTER_CONTEXT="${FACTORYOS_CLUSTER_CONTEXT:-factoryos-local}"
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"
CONTAINERD_SOCKET="$CLUSTER_DIR/run/containerd/containerd.sock"
# The pod bridge: the host's address on it is the node's address, the apiserver's
# advertised address and the cluster DNS server (pods reach the host only there).
POD_BRIDGE="factoryos0"
POD_CIDR="10.244.0.0/24"
BRIDGE_IP="10.244.0.1"
SERVICE_CIDR="10.96.0.0/16"
KUBERNETES_SERVICE_IP="10.96.0.1"
APISERVER_PORT=6443
# Policy-routing table for packets from pods: the bridge, then a blackhole.
POD_ROUTE_TABLE=4244
PAUSE_IMAGE="factoryos.local/pause:1"
NODE_NAME="factoryos-node"
ETCD_PORT=12379
ETCD_PEER_PORT=12380
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
KUBELET_PORT=10250
COREDNS_READY_PORT=18181
# The processes of the cluster, in start order (down.sh stops them in reverse).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns provisioner)
# Sysctls the components change (the kubelet, the bridge plugin, kube-proxy): saved by
# up.sh, restored by down.sh.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max)
# Folders the components use whatever they are told: removed by down.sh unless they
# were there before up.sh.
HARDCODED_PATHS=(/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/log/pods
  /var/run/nri /opt/containerd /etc/cni)
