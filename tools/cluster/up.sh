#!/usr/bin/env bash
# `make cluster-up`: a single-node Kubernetes on this host, from the pinned modules.
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy,
# CoreDNS and containerd run as host processes, each with its log and pid file under
# CLUSTER_DIR (tools/cluster/env.sh); runc and the CNI plugins are Debian's. Pods sit on
# a bridge this script makes (POD_BRIDGE). Nothing listens beyond loopback and that
# bridge, and no packet from a pod or to an untranslated Service address can leave the
# machine: pods' packets are routed by their own table (the bridge, else a blackhole),
# and the Service range has a blackhole route. Host state the components change
# (sysctls, iptables, hard-coded folders) is saved first; tools/cluster/down.sh puts it
# back. Idempotent: a healthy cluster is left as it is. Prints the kubeconfig context.
#
#   tools/cluster/up.sh [--check]    # --check: only say whether this machine can run it
#
# Exit status: 0 up, 1 a component failed to start (its log is printed and the host is
# restored), 2 this machine cannot run it (not root, no cgroups, another containerd).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"

refuse_unless_possible
if [[ "${1:-}" == --check ]]; then
  echo "cluster-up: this machine can run the single-node cluster"
  exit 0
fi
# The kubelet evicts every pod when its file system has less than 1% free (lib.sh), and
# the two images take about 6 GiB once imported: say so before starting, with what to free.
need_gib=10
free_gib="$(df -Pk /var/lib | awk 'NR == 2 {print int($4 / 1048576)}')"
if ((free_gib < need_gib)); then
  say "only $free_gib GiB free on /var/lib's file system; the node needs about $need_gib GiB (the images, and the kubelet evicts every pod below 1% free). $CACHE/docker is only a build cache and can go; so can old pytest folders in /tmp"
  exit 1
fi
if cluster_healthy; then
  echo "cluster-up: already up (context $CLUSTER_CONTEXT, kubeconfig $CLUSTER_KUBECONFIG)"
  exit 0
fi
if [[ -e "$CLUSTER_DIR/pids" ]]; then
  say "a previous cluster is not healthy: taking it down first"
  bash "$here/down.sh" >&2
fi

bash "$here/../os/packages.sh" runc:/usr/sbin/runc containernetworking-plugins:/usr/lib/cni/bridge \
  iptables:/usr/sbin/iptables iproute2:/usr/sbin/ip openssl:/usr/bin/openssl >&2
K8S_BIN="$(bash "$here/../k8s/build.sh")"
NODE_BIN="$(bash "$here/build.sh")"
started=$SECONDS

mkdir -p "$CLUSTER_DIR"/{pids,logs,pki,conf,host,volumes}
echo "$K8S_BIN" >"$CLUSTER_DIR/conf/k8s-bin"
echo "$NODE_BIN" >"$CLUSTER_DIR/conf/node-bin"
trap 'status=$?; if (( status != 0 )); then say "failed: restoring the host"; bash "$here/down.sh" >&2 || true; fi' EXIT

save_host_state
make_network
make_credentials
write_configs

start etcd "$K8S_BIN/etcd" --name factoryos --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "factoryos=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

pki="$CLUSTER_DIR/pki"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address "$BRIDGE_IP" --advertise-address "$BRIDGE_IP" --secure-port "$APISERVER_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction \
  --kubelet-client-certificate "$pki/apiserver-kubelet.crt" --kubelet-client-key "$pki/apiserver-kubelet.key" \
  --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$pki/ca.crt" \
  --allow-privileged=false --profiling=false --endpoint-reconciler-type lease
wait_for kube-apiserver 90 kubectl_admin get --raw /readyz

start kube-controller-manager "$NODE_BIN/kube-controller-manager" \
  --kubeconfig "$CLUSTER_DIR/conf/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/conf/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/conf/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials --service-cluster-ip-range "$SERVICE_CIDR" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --profiling=false
start kube-scheduler "$NODE_BIN/kube-scheduler" \
  --kubeconfig "$CLUSTER_DIR/conf/scheduler.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/conf/scheduler.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/conf/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false
kubectl_admin apply -f "$CLUSTER_DIR/conf/bootstrap.yaml" >/dev/null

start containerd env "PATH=$NODE_BIN:$PATH" "$NODE_BIN/containerd" --config "$CLUSTER_DIR/conf/containerd.toml"
wait_for containerd 30 "$NODE_BIN/ctr" --address "$CONTAINERD_SOCKET" version
python3 "$here/oci_archive.py" "$CLUSTER_DIR/conf/pause.tar" "$PAUSE_IMAGE" --entrypoint /pause "$NODE_BIN/pause=/pause"
"$NODE_BIN/ctr" --address "$CONTAINERD_SOCKET" -n k8s.io images import --local "$CLUSTER_DIR/conf/pause.tar" >/dev/null

start kubelet "$NODE_BIN/kubelet" --config "$CLUSTER_DIR/conf/kubelet.yaml" \
  --kubeconfig "$CLUSTER_DIR/conf/kubelet.kubeconfig" --root-dir "$CLUSTER_DIR/kubelet" \
  --cert-dir "$CLUSTER_DIR/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$BRIDGE_IP" \
  --node-labels "factoryos.dev/gpu=true"
wait_for "node $NODE_NAME" 120 node_ready
start kube-proxy "$NODE_BIN/kube-proxy" --config "$CLUSTER_DIR/conf/kube-proxy.yaml" --hostname-override "$NODE_NAME"
start coredns "$NODE_BIN/coredns" -conf "$CLUSTER_DIR/conf/Corefile"
start provisioner python3 "$here/hostpath_provisioner.py" --server "https://$BRIDGE_IP:$APISERVER_PORT" \
  --token-file "$pki/provisioner.token" --ca-file "$pki/ca.crt" --volumes "$CLUSTER_DIR/volumes"
wait_for coredns 30 curl -fsS "http://127.0.0.1:$COREDNS_READY_PORT/ready"

# A pretend GPU: an extended resource on the node's status proves scheduling, not CUDA.
kubectl_admin patch node "$NODE_NAME" --subresource=status --type=merge \
  -p '{"status":{"capacity":{"nvidia.com/gpu":"1"}}}' >/dev/null
wait_for "the default service account" 60 kubectl_admin -n default get serviceaccount default
write_user_kubeconfig
trap - EXIT
echo "cluster-up: node $NODE_NAME Ready in $((SECONDS - started))s; context $CLUSTER_CONTEXT (kubeconfig $CLUSTER_KUBECONFIG, also merged into ${KUBECONFIG:-$HOME/.kube/config})"
