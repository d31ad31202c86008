#!/usr/bin/env bash
# Build the Factory OS images with no registry (`make images` calls it, as root):
# factoryos-runner:dev (runner-image/Dockerfile: the runner, the operator and the
# dashboard) and factoryos-voice:cpu (voice-image/Dockerfile), each saved with
# `docker save` to a tarball under $CACHE/images/. Prints the tarballs' paths, one a
# line (tools/images/load.sh imports them into the node); progress goes to stderr.
#
#   tools/images/build.sh [runner] [voice]     # default: both
#
# - Bases: with FACTORYOS_LOCAL_BASES=1 (the default) the Dockerfiles' base-image
#   arguments point at local images made from a debootstrap rootfs
#   (tools/images/rootfs.sh): factoryos.local/python (Debian's python3, `python` linked
#   to it) and factoryos.local/golang (the same rootfs plus this host's Go toolchain at
#   /usr/local/go, which builds the pinned Kilroy through the Go module proxy) and
#   factoryos.local/node (the same rootfs plus this host's Node.js >= 20 and its npm,
#   which installs the pinned agent CLIs from npm's configured registry).
#   FACTORYOS_LOCAL_BASES=0 builds from the Dockerfiles' upstream defaults (pulled).
# - Engine: a private dockerd runs only while something is built: its socket, exec root
#   and pid file under $CLUSTER_DIR/docker, its data root in $CACHE/docker (layers are
#   reused across runs), no bridge, no iptables, no forwarding; builds use the host's
#   network. It is stopped with its containerd on exit, whatever happens.
# - Cache: each tarball is named by a hash of its build context (exactly the files the
#   Dockerfile copies, as git lists them, plus the Dockerfile) and its base images'
#   keys, so unchanged inputs start no engine at all. FACTORYOS_IMAGES_REBUILD=1
#   builds anyway.
#
# Exit status: 0 built (or cached), 1 a build failed (the end of its log is printed),
# 2 this machine cannot build (not root, unknown image name).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../cluster/env.sh
source "$here/../cluster/env.sh"

log() { echo "images: $*" >&2; }
refuse() { echo "images: $*" >&2; exit 2; }

declare -A DOCKERFILE=([runner]=runner-image/Dockerfile [voice]=voice-image/Dockerfile)
declare -A TAG=([runner]=factoryos-runner:dev [voice]=factoryos-voice:cpu)
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(runner voice)
for name in "${names[@]}"; do
  [[ -n "${DOCKERFILE[$name]:-}" ]] || refuse "unknown image '$name' (known: ${!DOCKERFILE[*]})"
done
[[ $(id -u) -eq 0 ]] || refuse "needs root (debootstrap and a private Docker engine); run it as root"

LOCAL_BASES="${FACTORYOS_LOCAL_BASES:-1}"
IMAGES="$CACHE/images"
ENGINE_DIR="$CLUSTER_DIR/docker"
CGROUP_PARENT=factoryos-images
mkdir -p "$IMAGES/logs"
exec 9>"$IMAGES/.lock"
flock -n 9 || { log "waiting for another build ($IMAGES/.lock) ..."; flock 9; }
started=$SECONDS

# -- the base images' names and the build arguments -------------------------------------
declare -A BUILD_ARGS=()
if [[ "$LOCAL_BASES" == 1 ]]; then
  rootfs_key="$(bash "$here/rootfs.sh" --key)"
  suite="${rootfs_key%%-*}"
  PY_BASE="factoryos.local/python:$rootfs_key"
  BUILD_ARGS[voice]="--build-arg PYTHON_IMAGE=$PY_BASE"
  BUILD_ARGS[runner]="--build-arg PYTHON_IMAGE=$PY_BASE"
  if [[ " ${names[*]} " == *" runner "* ]]; then
    command -v go >/dev/null || { log "Go >= 1.25 is needed for the local Go base (the runner image builds Kilroy in it)"; exit 1; }
    go_version="$(go env GOVERSION)"
    GO_BASE="factoryos.local/golang:${go_version#go}-$rootfs_key"
    BUILD_ARGS[runner]+=" --build-arg GO_IMAGE=$GO_BASE"
    node_version="$(node -p 'process.versions.node' 2>/dev/null || true)"
    [[ "${node_version%%.*}" =~ ^[0-9]+$ && "${node_version%%.*}" -ge 20 ]] && command -v npm >/dev/null ||
      { log "Node.js >= 20 with npm is needed for the local Node base (the runner image installs the agent CLIs in it; found ${node_version:-none})"; exit 1; }
    NODE_BASE="factoryos.local/node:$node_version-$rootfs_key"
    BUILD_ARGS[runner]+=" --build-arg NODE_IMAGE=$NODE_BASE --build-arg NPM_CONFIG_REGISTRY=$(npm config get registry)"
    # The rootfs's bundle holds the host's extra CAs (rootfs.sh); Node reads only its own.
    BUILD_ARGS[runner]+=" --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"
  fi
else
  BUILD_ARGS[voice]="" BUILD_ARGS[runner]=""
fi

# -- build contexts and cache keys --------------------------------------------------------
copy_sources() {  # DOCKERFILE: the paths its COPY lines take from the context
  awk 'toupper($1) == "COPY" && $0 !~ /--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "$repo/$1"
}
context_files() {  # DOCKERFILE: the Dockerfile and the files its COPY sources hold, NUL-separated
  local dockerfile="$1" sources
  mapfile -t sources < <(copy_sources "$dockerfile")
  cd "$repo"
  {
    printf '%s\0' "$dockerfile"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      git ls-files -z --cached --others --exclude-standard -- "${sources[@]}"
    else
      find "${sources[@]}" \( -type f -o -type l \) -print0
    fi
  } | while IFS= read -r -d '' f; do [[ -f "$f" || -L "$f" ]] && printf '%s\0' "$f"; done | LC_ALL=C sort -zu
}
make_context() {  # NAME OUT: a reproducible tar of the context (same files, same bytes)
  context_files "${DOCKERFILE[$1]}" | tar -C "$repo" --null --no-recursion -T - -c -f "$2" \
    --format=gnu --mtime=@946684800 --owner=0 --group=0 --numeric-owner
}

declare -A CONTEXT=() OUT=()
todo=()
for name in "${names[@]}"; do
  CONTEXT[$name]="$IMAGES/context-$name.tar"
  make_context "$name" "${CONTEXT[$name]}"
  key="$({ sha256sum <"${CONTEXT[$name]}"; echo "bases=$LOCAL_BASES ${BUILD_ARGS[$name]}"; } | sha256sum | cut -c1-16)"
  OUT[$name]="$IMAGES/$name-$key.tar"
  if [[ -f "${OUT[$name]}" && "${FACTORYOS_IMAGES_REBUILD:-0}" != 1 ]]; then
    log "${TAG[$name]}: up to date (${OUT[$name]})"
    rm -f "${CONTEXT[$name]}"
  else
    todo+=("$name")
  fi
done
if [[ ${#todo[@]} -eq 0 ]]; then
  for name in "${names[@]}"; do echo "${OUT[$name]}"; done
  exit 0
fi

# -- the private engine ---------------------------------------------------------------------
engine_pid=""
made_cluster_dir=0 made_run_containerd=0 made_etc_docker=0 made_trust_key=0
engine_processes() {  # pids of the processes of this engine: dockerd, its containerd, shims
  local dir cmdline
  for dir in /proc/[0-9]*; do
    cmdline="$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline")" || continue
    [[ "$cmdline" == *"$ENGINE_DIR/"* ]] && echo "${dir#/proc/}"
  done
  return 0
}
unmount_under() {  # DIR: unmount whatever is mounted below DIR, deepest first
  local dir m
  dir="$(realpath -m "$1")"
  for m in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | LC_ALL=C sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}
stop_engine() {
  [[ -n "$engine_pid" ]] || return 0
  local pids i
  kill -TERM "$engine_pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do kill -0 "$engine_pid" 2>/dev/null || break; sleep 0.5; done
  # dockerd stops its containerd; whatever of this engine is still there is killed.
  for ((i = 0; i < 20; i++)); do
    pids="$(engine_processes)"
    [[ -n "$pids" ]] || break
    if ((i < 10)); then kill -TERM $pids 2>/dev/null || true; else kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.5
  done
  wait "$engine_pid" 2>/dev/null || true
  [[ -z "$(engine_processes)" ]] || log "warning: engine processes left: $(engine_processes | tr '\n' ' ')"
  unmount_under "$ENGINE_DIR"
  unmount_under "$CACHE/docker"
  rm -rf "$ENGINE_DIR"
  # What dockerd and its containerd made outside those folders, when it was not there before.
  if ((made_cluster_dir)); then rmdir "$CLUSTER_DIR" 2>/dev/null || true; fi
  if ((made_run_containerd)); then rmdir /run/containerd/s /run/containerd 2>/dev/null || true; fi
  if ((made_trust_key)); then rm -f /etc/docker/key.json; fi  # dockerd 20.10 writes it, wherever its config is
  if ((made_etc_docker)); then rmdir /etc/docker 2>/dev/null || true; fi
  rmdir /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT" 2>/dev/null || true
  engine_pid=""
  log "engine stopped"
}
trap 'stop_engine' EXIT
trap 'exit 130' INT TERM

start_engine() {
  bash "$here/../os/packages.sh" docker.io:/usr/sbin/dockerd >&2
  local docker
  docker="$(command -v docker)" || { log "no docker client on the PATH (Debian's docker.io has one)"; exit 1; }
  [[ -n "$(engine_processes)" ]] && { log "an engine of $ENGINE_DIR is already running (pids $(engine_processes | tr '\n' ' ')); stop it first"; exit 1; }
  [[ -e "$CLUSTER_DIR" ]] || made_cluster_dir=1
  [[ -e /run/containerd ]] || made_run_containerd=1
  [[ -e /etc/docker ]] || made_etc_docker=1
  [[ -e /etc/docker/key.json ]] || made_trust_key=1
  rm -rf "$ENGINE_DIR"
  mkdir -p "$ENGINE_DIR/client" "$CACHE/docker"
  echo '{}' >"$ENGINE_DIR/daemon.json"
  export DOCKER_HOST="unix://$ENGINE_DIR/docker.sock" DOCKER_CONFIG="$ENGINE_DIR/client" DOCKER_BUILDKIT=0
  unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
  log "starting a private dockerd ($DOCKER_HOST, data in $CACHE/docker) ..."
  setsid /usr/sbin/dockerd --config-file "$ENGINE_DIR/daemon.json" --host "$DOCKER_HOST" \
    --exec-root "$ENGINE_DIR/exec" --pidfile "$ENGINE_DIR/dockerd.pid" --data-root "$CACHE/docker" \
    --storage-driver overlay2 --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --userland-proxy=false --cgroup-parent "/$CGROUP_PARENT" \
    >"$IMAGES/logs/dockerd.log" 2>&1 </dev/null &
  engine_pid=$!
  local i
  for ((i = 0; i < 120; i++)); do
    "$docker" version >/dev/null 2>&1 && return 0
    kill -0 "$engine_pid" 2>/dev/null || break
    sleep 0.5
  done
  log "dockerd did not start; the end of $IMAGES/logs/dockerd.log:"
  tail -n 20 "$IMAGES/logs/dockerd.log" >&2
  exit 1
}

import_bases() {  # the local base images, from the cached rootfs (made when missing)
  local rootfs py_version go_root
  local base_env=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV LANG=C.UTF-8')
  local rootfs_tar=(--numeric-owner '--exclude=./dev/*' '--exclude=./proc/*' '--exclude=./sys/*')
  rootfs="$(bash "$here/rootfs.sh")"
  py_version="$(readlink "$rootfs/usr/bin/python3")"
  py_version="${py_version#python}"
  if ! docker image inspect "$PY_BASE" >/dev/null 2>&1; then
    log "importing $PY_BASE (the rootfs, Python $py_version) ..."
    tar -C "$rootfs" -c "${rootfs_tar[@]}" . |
      docker import "${base_env[@]}" --change 'CMD ["python3"]' - "$PY_BASE" >/dev/null
  fi
  docker tag "$PY_BASE" "factoryos.local/python:$py_version-$suite"
  [[ -n "${GO_BASE:-}" ]] || return 0
  if ! docker image inspect "$GO_BASE" >/dev/null 2>&1; then
    go_root="$(go env GOROOT)"
    log "importing $GO_BASE (the rootfs plus $go_root at /usr/local/go) ..."
    tar -c "${rootfs_tar[@]}" -C "$rootfs" . -C "$(dirname "$go_root")" \
      --transform "s,^$(basename "$go_root"),usr/local/go,S" "$(basename "$go_root")" |
      docker import \
        --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' \
        --change 'CMD ["bash"]' - "$GO_BASE" >/dev/null
  fi
  local go_minor="${go_version#go}"
  go_minor="${go_minor%.*}"
  docker tag "$GO_BASE" "factoryos.local/golang:$go_minor-$suite"
  if ! docker image inspect "$NODE_BASE" >/dev/null 2>&1; then
    local node_bin npm_dir links
    node_bin="$(readlink -f "$(command -v node)")"
    npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
    links="$(mktemp -d)"
    mkdir -p "$links/usr/local/bin"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$links/usr/local/bin/npm"
    log "importing $NODE_BASE (the rootfs plus $node_bin and $npm_dir under /usr/local) ..."
    tar -c "${rootfs_tar[@]}" -C "$rootfs" . -C "$links" ./usr/local/bin/npm \
      -C "$(dirname "$node_bin")" --transform "s,^$(basename "$node_bin")\$,usr/local/bin/node,S" "$(basename "$node_bin")" \
      -C "$(dirname "$npm_dir")" --transform "s,^$(basename "$npm_dir"),usr/local/lib/node_modules/npm,S" "$(basename "$npm_dir")" |
      docker import "${base_env[@]}" --change 'CMD ["node"]' - "$NODE_BASE" >/dev/null
    rm -rf "$links"
  fi
}

build_one() {  # NAME: build, check, save
  local name="$1" tag="${TAG[$1]}" dockerfile="${DOCKERFILE[$1]}" build_log="$IMAGES/logs/$1.log" t0=$SECONDS
  local args user entrypoint
  read -ra args <<<"${BUILD_ARGS[$name]}"
  log "building $tag ($dockerfile; log $build_log) ..."
  set +e
  docker build --network host --force-rm -f "$dockerfile" -t "$tag" "${args[@]}" - <"${CONTEXT[$name]}" 2>&1 |
    tee "$build_log" | { grep --line-buffered -E '^Step [0-9]+/[0-9]+ : ' | cut -c1-110 | sed -u 's/^/images:   /' >&2; true; }
  local status=${PIPESTATUS[0]}
  set -e
  if ((status != 0)) && grep -qE 'overlay2/[0-9a-f]+.*: no such file or directory' "$build_log" && ((!fresh_store)); then
    # An engine killed mid-write (a machine stopped under it) leaves its layer store
    # inconsistent; the cache is only a cache, so start over with an empty one.
    log "the engine's layer store in $CACHE/docker is damaged; emptying it and building again"
    stop_engine
    rm -rf "$CACHE/docker"
    fresh_store=1
    start_engine
    [[ "$LOCAL_BASES" == 1 ]] && import_bases
    build_one "$name"
    return
  fi
  if ((status != 0)); then
    log "building $tag failed; the end of $build_log:"
    tail -n 30 "$build_log" >&2
    exit 1
  fi
  user="$(docker image inspect -f '{{.Config.User}}' "$tag")"
  entrypoint="$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$tag")"
  [[ "$user" == 10001 ]] || { log "$tag runs as user '$user', not 10001"; exit 1; }
  docker save -o "${OUT[$name]}.tmp" "$tag"
  mv -f "${OUT[$name]}.tmp" "${OUT[$name]}"
  local old
  for old in "$IMAGES/$name"-*.tar; do [[ "$old" == "${OUT[$name]}" ]] || rm -f "$old"; done
  rm -f "${CONTEXT[$name]}"
  log "$tag built in $((SECONDS - t0))s: user $user, entrypoint/cmd $entrypoint, $(du -h "${OUT[$name]}" | cut -f1) saved to ${OUT[$name]}"
}

fresh_store=0
start_engine
[[ "$LOCAL_BASES" == 1 ]] && import_bases
for name in "${todo[@]}"; do build_one "$name"; done
stop_engine
log "done in $((SECONDS - started))s"
for name in "${names[@]}"; do echo "${OUT[$name]}"; done
