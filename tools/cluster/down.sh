#!/usr/bin/env bash
# `make cluster-down`: stop the single-node cluster and put the host back as up.sh found it.
#
# Stops the node's processes and every container (their shims and whatever runs in the
# pods' cgroups), unmounts what containerd and the kubelet mounted, removes the pods'
# cgroups, the bridge, the routes and the routing rule, removes kube-proxy's iptables
# chains and restores the saved rules, restores the saved sysctls, removes the
# hard-coded folders the components made and the context from the user's kubeconfig,
# then deletes CLUSTER_DIR (its logs are kept under the cache). Finally it checks each
# of these and lists what is left, exiting 1 if anything is. Idempotent.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || { echo "cluster-down: needs root (it unmounts, removes cgroups and routes)" >&2; exit 2; }
if [[ ! -d "$CLUSTER_DIR" ]] && ! ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
  echo "cluster-down: no cluster here (no $CLUSTER_DIR)"
  exit 0
fi
logs_kept="$CACHE/cluster-logs"

stop_component() {  # NAME [SECONDS]: TERM, then KILL after the grace
  local name="$1" grace="${2:-10}" pid deadline
  pid="$(pid_of "$name")" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$CLUSTER_DIR/pids/$name.pid"
}

pod_cgroups() {  # the pods' cgroup folders, deepest first
  find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name 'kubepods*' 2>/dev/null |
    while read -r top; do find "$top" -depth -type d; done
}

cluster_processes() {  # pids of anything still running for the cluster
  {
    pgrep -f "$CLUSTER_DIR" || true
    pod_cgroups | while read -r dir; do cat "$dir/cgroup.procs" 2>/dev/null; done
  } | sort -un | grep -vx "$$" || true
}

cluster_mounts() {
  findmnt -rn -o TARGET | sed 's/\\040/ /g' |
    grep -E "^($CLUSTER_DIR|/run/containerd|/var/lib/kubelet|/run/netns/cni-)" | sort -r
}

say "stopping the node"
for name in provisioner coredns kube-proxy kubelet; do stop_component "$name"; done
ctr="$(node_bin)/ctr"
if [[ -S "$CONTAINERD_SOCKET" ]]; then
  for task in $("$ctr" --address "$CONTAINERD_SOCKET" -n k8s.io tasks ls -q 2>/dev/null); do
    "$ctr" --address "$CONTAINERD_SOCKET" -n k8s.io tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1
  done
fi
for attempt in 1 2 3; do
  pids="$(pod_cgroups | while read -r dir; do cat "$dir/cgroup.procs" 2>/dev/null; done)"
  [[ -z "$pids" ]] && break
  kill -KILL $pids 2>/dev/null
  sleep 0.5
done
stop_component containerd 15
pkill -KILL -f "containerd-shim-runc-v2 .*$CLUSTER_DIR" 2>/dev/null
for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_component "$name"; done
left="$(cluster_processes)"
[[ -n "$left" ]] && kill -KILL $left 2>/dev/null && sleep 0.5

say "unmounting"
for target in $(cluster_mounts); do umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null; done
for dir in $(pod_cgroups); do rmdir "$dir" 2>/dev/null; done

say "restoring the network"
ip link del "$POD_BRIDGE" 2>/dev/null
while ip rule del pref "$POD_ROUTE_TABLE" 2>/dev/null; do :; done
ip route flush table "$POD_ROUTE_TABLE" 2>/dev/null
ip route del blackhole "$SERVICE_CIDR" 2>/dev/null
[[ -x "$(node_bin)/kube-proxy" ]] && "$(node_bin)/kube-proxy" --cleanup >/dev/null 2>&1
host="$CLUSTER_DIR/host"
reset_rules() {  # iptables|ip6tables SAVED: empty every table, then load what was saved
  local table
  for table in filter nat mangle raw security; do
    "$1" -t "$table" -F 2>/dev/null && "$1" -t "$table" -X 2>/dev/null
  done
  [[ -s "$2" ]] && "$1-restore" <"$2"
}
if [[ -f "$host/iptables.rules" ]]; then
  reset_rules iptables "$host/iptables.rules"
  reset_rules ip6tables "$host/ip6tables.rules"
fi

say "restoring sysctls and folders"
if [[ -f "$host/sysctls" ]]; then
  while IFS='=' read -r name value; do sysctl -qw "$name=$value" 2>/dev/null; done <"$host/sysctls"
fi
for path in "${HARDCODED_PATHS[@]}"; do
  grep -qx "$path" "$host/paths-before" 2>/dev/null && continue
  [[ -z "$(findmnt -rn -o TARGET | grep "^$path")" ]] && rm -rf --one-file-system "$path"
done
forget_user_kubeconfig

# -- check, then forget ---------------------------------------------------------------------
problems=()
left="$(cluster_processes)"
[[ -n "$left" ]] && problems+=("processes: $(echo $left)")
mounts="$(cluster_mounts)"
[[ -n "$mounts" ]] && problems+=("mounts: $(echo $mounts)")
cgroups="$(pod_cgroups)"
[[ -n "$cgroups" ]] && problems+=("cgroups: $(echo $cgroups | cut -c1-200)")
ip link show "$POD_BRIDGE" >/dev/null 2>&1 && problems+=("link $POD_BRIDGE")
[[ -n "$(ip rule show pref "$POD_ROUTE_TABLE")" ]] && problems+=("routing rule $POD_ROUTE_TABLE")
ip route show | grep -q "^blackhole $SERVICE_CIDR" && problems+=("route blackhole $SERVICE_CIDR")
if [[ -f "$host/sysctls" ]]; then
  while IFS='=' read -r name value; do
    now="$(sysctl -n "$name" 2>/dev/null)"
    [[ "$now" == "$value" ]] || problems+=("sysctl $name is $now, was $value")
  done <"$host/sysctls"
fi
rules() { grep -E '^(-A |:[^ ]+ - )' | sort; }  # rules and own chains, not counters or empty tables
for cmd in iptables ip6tables; do
  [[ -f "$host/$cmd.rules" ]] || continue
  diff -q <("$cmd-save" 2>/dev/null | rules) <(rules <"$host/$cmd.rules") >/dev/null ||
    problems+=("$cmd rules differ from the saved ones")
done

mkdir -p "$logs_kept"
rm -rf "$logs_kept/last"
[[ -d "$CLUSTER_DIR/logs" ]] && cp -r "$CLUSTER_DIR/logs" "$logs_kept/last"
if (( ${#problems[@]} )); then
  printf 'cluster-down: left behind: %s\n' "${problems[@]}" >&2
  echo "cluster-down: kept $CLUSTER_DIR for a look; logs in $logs_kept/last" >&2
  exit 1
fi
rm -rf --one-file-system "$CLUSTER_DIR"
echo "cluster-down: host restored (no process, mount, cgroup, route or sysctl of the cluster left); logs in $logs_kept/last"
