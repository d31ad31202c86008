#!/usr/bin/env bash
# `make cluster-status`: each component of the single-node cluster (pid or stopped), the
# node's readiness and the context. Exit 0 when all run and the node is Ready, 1 when
# the cluster is degraded, 3 when there is no cluster.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ ! -d "$CLUSTER_DIR/pids" ]]; then
  echo "no cluster (make cluster-up starts one)"
  exit 3
fi
healthy=0
for name in "${COMPONENTS[@]}"; do
  if pid="$(pid_of "$name")"; then
    rss="$(awk '/^VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)"
    printf '  %-24s running  pid %-8s %s\n' "$name" "$pid" "$rss"
  else
    printf '  %-24s STOPPED  (log: %s)\n' "$name" "$CLUSTER_DIR/logs/$name.log"
    healthy=1
  fi
done
if node_ready; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not Ready"; healthy=1; fi
echo "context $CLUSTER_CONTEXT (kubeconfig $CLUSTER_KUBECONFIG); state in $CLUSTER_DIR"
exit "$healthy"
