# Functions of the single-node cluster's scripts (up.sh, down.sh, status.sh); source
# env.sh first. Each writes under CLUSTER_DIR only, except where it says otherwise.
# shellcheck shell=bash

say() { echo "cluster: $*" >&2; }
# One line and exit 2: this machine cannot run the cluster.
refuse() { echo "cluster-up: $*" >&2; exit 2; }

k8s_bin() { cat "$CLUSTER_DIR/conf/k8s-bin" 2>/dev/null || bash "$CLUSTER_TOOLS/../k8s/build.sh"; }
node_bin() { cat "$CLUSTER_DIR/conf/node-bin" 2>/dev/null || bash "$CLUSTER_TOOLS/build.sh"; }
kubectl_admin() { "$(k8s_bin)/kubectl" --kubeconfig "$CLUSTER_DIR/conf/admin.kubeconfig" --request-timeout 10s "$@"; }

pid_of() {  # NAME: the live pid of a component, or nothing
  local file="$CLUSTER_DIR/pids/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

refuse_unless_possible() {
  [[ $(id -u) -eq 0 ]] || refuse "needs root (it runs containerd and the kubelet, which change cgroups, mounts, routes and sysctls); run it as root or use kind where Docker runs"
  [[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] || refuse "no cgroup hierarchy is mounted at /sys/fs/cgroup: the kubelet cannot run pods"
  command -v unshare >/dev/null && unshare --net true 2>/dev/null || refuse "cannot make network namespaces here (unshare --net failed): pods need them"
  local pid
  for pid in $(pgrep -x containerd || true); do
    [[ "$(cat "$CLUSTER_DIR/pids/containerd.pid" 2>/dev/null)" == "$pid" ]] && continue
    refuse "another containerd (pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-80)) owns this host; the node's containerd shares its hard-coded paths, so stop it first"
  done
  [[ ! -S /run/containerd/containerd.sock ]] || refuse "another containerd's socket is at /run/containerd/containerd.sock; stop that containerd first"
}

node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

cluster_healthy() {
  local name
  for name in "${COMPONENTS[@]}"; do pid_of "$name" >/dev/null || return 1; done
  kubectl_admin get --raw /readyz >/dev/null 2>&1 && node_ready
}

start() {  # NAME COMMAND...: run a component in its own session, logging to logs/NAME.log
  local name="$1"
  shift
  say "starting $name"
  setsid "$@" >>"$CLUSTER_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_DIR/pids/$name.pid"
}

wait_for() {  # WHAT SECONDS COMMAND...: until COMMAND succeeds, else the logs and exit 1
  local what="$1" limit="$2" deadline=$((SECONDS + $2)) name
  shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      say "$what is not ready after ${limit}s; the last lines of each log:"
      for name in "${COMPONENTS[@]}"; do
        [[ -f "$CLUSTER_DIR/logs/$name.log" ]] || continue
        echo "--- $name" >&2
        tail -n 15 "$CLUSTER_DIR/logs/$name.log" >&2
      done
      exit 1
    fi
    sleep 0.5
  done
}

# -- host state -----------------------------------------------------------------------------

save_host_state() {
  local host="$CLUSTER_DIR/host" name path
  [[ -f "$host/sysctls" ]] && return 0  # saved by an earlier, unfinished start: keep the first
  for name in "${HOST_SYSCTLS[@]}"; do
    sysctl -n "$name" >/dev/null 2>&1 && echo "$name=$(sysctl -n "$name")"
  done >"$host/sysctls.tmp"
  for path in "${HARDCODED_PATHS[@]}"; do [[ -e "$path" ]] && echo "$path"; done >"$host/paths-before" || true
  iptables-save 2>/dev/null | grep -v '^#' >"$host/iptables.rules" || true
  ip6tables-save 2>/dev/null | grep -v '^#' >"$host/ip6tables.rules" || true
  mv "$host/sysctls.tmp" "$host/sysctls"
}

make_network() {
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 || ip link add "$POD_BRIDGE" type bridge
  ip addr replace "$BRIDGE_IP/${POD_CIDR#*/}" dev "$POD_BRIDGE"
  ip link set "$POD_BRIDGE" up
  # Nothing for the Service range leaves the machine, translated or not.
  ip route replace blackhole "$SERVICE_CIDR"
  # Pods' packets: to the bridge, else dropped (the host's own addresses come first, in
  # the local table).
  ip rule show pref "$POD_ROUTE_TABLE" | grep -q . || ip rule add from "$POD_CIDR" lookup "$POD_ROUTE_TABLE" pref "$POD_ROUTE_TABLE"
  ip route replace "$POD_CIDR" dev "$POD_BRIDGE" table "$POD_ROUTE_TABLE"
  ip route replace blackhole default table "$POD_ROUTE_TABLE"
  # Services reach pods through the host (kube-proxy's DNAT, then forwarding back onto
  # the bridge); bridged packets pass iptables so those translations are undone.
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

# -- credentials ----------------------------------------------------------------------------

sign() {  # NAME SUBJECT [SANS]: a key and a certificate signed by the cluster's CA
  local pki="$CLUSTER_DIR/pki" name="$1" subject="$2" sans="${3:-}"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/$name.key" \
    -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$sans" ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}

# Identities that authenticate with a bearer token: name, user, groups.
TOKEN_USERS=(
  "admin factoryos-admin system:masters"
  "kubelet system:node:$NODE_NAME system:nodes"
  "controller-manager system:kube-controller-manager -"
  "scheduler system:kube-scheduler -"
  "kube-proxy system:kube-proxy -"
  "coredns factoryos:coredns -"
  "provisioner factoryos:provisioner -"
)

make_credentials() {
  local pki="$CLUSTER_DIR/pki" entry name user groups token
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=factoryos-local-ca" 2>/dev/null
  sign apiserver "/CN=kube-apiserver" "IP:$BRIDGE_IP,IP:$KUBERNETES_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
  sign kubelet "/CN=$NODE_NAME" "IP:$BRIDGE_IP,DNS:$NODE_NAME"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  : >"$pki/tokens.csv"
  for entry in "${TOKEN_USERS[@]}"; do
    read -r name user groups <<<"$entry"
    token="$(openssl rand -hex 24)"
    echo "$token" >"$pki/$name.token"
    if [[ "$groups" == - ]]; then echo "$token,$user,$user" >>"$pki/tokens.csv"
    else echo "$token,$user,$user,\"$groups\"" >>"$pki/tokens.csv"; fi
    write_kubeconfig "$CLUSTER_DIR/conf/$name.kubeconfig" "$token"
  done
  chmod 600 "$pki"/*.key "$pki"/*.token "$pki/tokens.csv"
}

write_kubeconfig() {  # FILE TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_CONTEXT
  cluster:
    server: https://$BRIDGE_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$CLUSTER_DIR/pki/ca.crt")
users:
- name: $CLUSTER_CONTEXT
  user:
    token: $2
contexts:
- name: $CLUSTER_CONTEXT
  context: {cluster: $CLUSTER_CONTEXT, user: $CLUSTER_CONTEXT}
current-context: $CLUSTER_CONTEXT
EOF
  chmod 600 "$1"
}

# The admin kubeconfig, for users: CLUSTER_KUBECONFIG, and merged into theirs.
write_user_kubeconfig() {
  local user_config="${KUBECONFIG:-$HOME/.kube/config}"
  user_config="${user_config%%:*}"
  cp "$CLUSTER_DIR/conf/admin.kubeconfig" "$CLUSTER_KUBECONFIG"
  mkdir -p "$(dirname "$user_config")"
  [[ -f "$user_config" ]] || : >"$user_config"
  KUBECONFIG="$user_config:$CLUSTER_KUBECONFIG" "$(k8s_bin)/kubectl" config view --flatten >"$user_config.factoryos.tmp"
  chmod 600 "$user_config.factoryos.tmp"
  mv "$user_config.factoryos.tmp" "$user_config"
}

forget_user_kubeconfig() {
  local user_config="${KUBECONFIG:-$HOME/.kube/config}" kubectl
  user_config="${user_config%%:*}"
  [[ -f "$user_config" ]] || return 0
  kubectl="$(k8s_bin)/kubectl"
  "$kubectl" --kubeconfig "$user_config" config delete-context "$CLUSTER_CONTEXT" >/dev/null 2>&1 || true
  "$kubectl" --kubeconfig "$user_config" config delete-cluster "$CLUSTER_CONTEXT" >/dev/null 2>&1 || true
  "$kubectl" --kubeconfig "$user_config" config delete-user "$CLUSTER_CONTEXT" >/dev/null 2>&1 || true
  if [[ "$("$kubectl" --kubeconfig "$user_config" config current-context 2>/dev/null)" == "$CLUSTER_CONTEXT" ]]; then
    "$kubectl" --kubeconfig "$user_config" config unset current-context >/dev/null 2>&1 || true
  fi
}

# -- component configuration -------------------------------------------------------------------

write_configs() {
  local conf="$CLUSTER_DIR/conf" pki="$CLUSTER_DIR/pki"
  mkdir -p "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/kubelet/pki" "$CLUSTER_DIR/pod-logs"
  cat >"$CLUSTER_DIR/cni/net.d/10-factoryos.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "factoryos",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$CLUSTER_DIR/cni/networks"
      }
    }
  ]
}
EOF
  cat >"$conf/containerd.toml" <<EOF
version = 3
root = '$CLUSTER_DIR/containerd'
state = '$CLUSTER_DIR/run/containerd'
imports = []
[grpc]
  address = '$CONTAINERD_SOCKET'
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$PAUSE_IMAGE'
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '/usr/sbin/runc'
        SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$CLUSTER_DIR/cni/net.d'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
  [plugins.'io.containerd.internal.v1.opt']
    path = '$CLUSTER_DIR/opt'
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
EOF
  cat >"$conf/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$BRIDGE_IP]
resolvConf: ""
podCIDR: $POD_CIDR
podLogsDir: $CLUSTER_DIR/pod-logs
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
maxPods: 110
EOF
  cat >"$conf/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $conf/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$BRIDGE_IP/32"]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cat >"$conf/Corefile" <<EOF
.:53 {
    bind $BRIDGE_IP
    errors
    ready 127.0.0.1:$COREDNS_READY_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $conf/coredns.kubeconfig $CLUSTER_CONTEXT
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
  cat >"$conf/bootstrap.yaml" <<EOF
# The cluster's own objects: the default StorageClass (tools/cluster/hostpath_provisioner.py)
# and what CoreDNS and the provisioner may read and write.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: factoryos-hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: factoryos.dev/hostpath
reclaimPolicy: Delete
volumeBindingMode: Immediate
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "factoryos:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "factoryos:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "factoryos:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "factoryos:coredns"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "factoryos:provisioner"}
rules:
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, create, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "factoryos:provisioner"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "factoryos:provisioner"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "factoryos:provisioner"}]
EOF
}
