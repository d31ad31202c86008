#!/usr/bin/env bash
# The Debian root filesystem of the local base images (tools/images/build.sh imports it
# as the Python base, and with the host's Go toolchain as the Go base), for machines that
# cannot pull the upstream bases. Made once with debootstrap (minbase plus what the
# Dockerfiles use: python3, python3-venv, apt, useradd, CA certificates), upgraded, and
# cached under $CACHE/images/rootfs-<key>/rootfs, where the key hashes this script, the
# suite, the package list, the mirror, the APT sources and the host's extra CA
# certificates. Prints that folder.
#
#   tools/images/rootfs.sh          # build when missing, print the folder
#   tools/images/rootfs.sh --key    # only print the key
#
# Environment: FACTORYOS_DEBIAN_SUITE (default bookworm), FACTORYOS_DEBIAN_MIRROR
# (default: debootstrap's own).
#
# The rootfs trusts what the host trusts: the host's extra CA certificates
# (/usr/local/share/ca-certificates) are added and pip is pointed at the system bundle,
# so builds behind a TLS-inspecting proxy reach the package indexes as the host does.
# When the host runs the same suite, its Debian APT sources (with the updates and
# security suites) replace debootstrap's single line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/env.sh
source "$here/../cluster/env.sh"

SUITE="${FACTORYOS_DEBIAN_SUITE:-bookworm}"
MIRROR="${FACTORYOS_DEBIAN_MIRROR:-}"
PACKAGES=(python3 python3-venv ca-certificates debian-archive-keyring netbase tzdata)
HOST_SOURCES=/etc/apt/sources.list.d/debian.sources
HOST_CAS=/usr/local/share/ca-certificates

log() { echo "images: $*" >&2; }

host_sources() {  # the host's Debian sources when it runs SUITE, else nothing
  local codename
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  [[ "$codename" == "$SUITE" && -f "$HOST_SOURCES" ]] && cat "$HOST_SOURCES"
  return 0
}

host_cas() {  # the host's extra CA certificates, relative to HOST_CAS
  [[ -d "$HOST_CAS" ]] || return 0
  (cd "$HOST_CAS" && find . -type f -name '*.crt' | LC_ALL=C sort)
}

key() {
  {
    sha256sum <"${BASH_SOURCE[0]}"
    echo "suite=$SUITE mirror=$MIRROR packages=${PACKAGES[*]}"
    host_sources
    host_cas | while read -r ca; do echo "$ca"; cat "$HOST_CAS/$ca"; done
  } | sha256sum | cut -c1-16
}

KEY="$SUITE-$(key)"
if [[ "${1:-}" == --key ]]; then
  echo "$KEY"
  exit 0
fi

root="$CACHE/images/rootfs-$KEY"
if [[ -f "$root/done" && -d "$root/rootfs" ]]; then
  echo "$root/rootfs"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "images: the base rootfs needs root (debootstrap); run it as root" >&2; exit 2; }
bash "$here/../os/packages.sh" debootstrap:/usr/sbin/debootstrap >&2

tmp="$root/rootfs.tmp"
unmount_under() {  # DIR: unmount whatever debootstrap or chroot left mounted below DIR
  local dir mounts
  dir="$(realpath -m "$1")"
  mounts="$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | LC_ALL=C sort -r)"
  for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
}
cleanup() {
  unmount_under "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
mkdir -p "$root"

started=$SECONDS
includes="$(IFS=,; echo "${PACKAGES[*]}")"
log "debootstrap $SUITE (minbase + $includes) into $root ..."
if ! debootstrap --variant=minbase --components=main --include="$includes" "$SUITE" "$tmp" ${MIRROR:+"$MIRROR"} \
  >"$root/debootstrap.log" 2>&1; then
  log "debootstrap failed; the end of $root/debootstrap.log:"
  tail -n 20 "$root/debootstrap.log" >&2
  exit 1
fi
unmount_under "$tmp"

in_root() { chroot "$tmp" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
sources="$(host_sources)"
if [[ -n "$sources" ]]; then
  printf '%s\n' "$sources" >"$tmp/etc/apt/sources.list.d/debian.sources"
  rm -f "$tmp/etc/apt/sources.list"
fi
if [[ -n "$(host_cas)" ]]; then
  host_cas | while read -r ca; do install -D -m 0644 "$HOST_CAS/$ca" "$tmp/usr/local/share/ca-certificates/$ca"; done
  in_root update-ca-certificates >/dev/null
fi
log "upgrading the rootfs's packages ..."
if ! { in_root apt-get update -q && in_root apt-get upgrade -y -q; } >>"$root/debootstrap.log" 2>&1; then
  log "apt-get upgrade in the rootfs failed; the end of $root/debootstrap.log:"
  tail -n 20 "$root/debootstrap.log" >&2
  exit 1
fi
in_root apt-get clean
unmount_under "$tmp"
# What the upstream python image offers that the Dockerfiles use: `python` on the PATH,
# and pip trusting the system's CA bundle (a venv's pip otherwise uses its own).
ln -sf /usr/bin/python3 "$tmp/usr/local/bin/python"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$tmp/etc/pip.conf"
# Nothing of this host or of the bootstrap stays in the image.
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/log/* "$tmp"/tmp/* "$tmp"/root/.cache
: >"$tmp/etc/resolv.conf"
echo localhost >"$tmp/etc/hostname"
: >"$tmp/etc/machine-id"

rm -rf "$root/rootfs"
mv "$tmp" "$root/rootfs"
date -u +%Y-%m-%dT%H:%M:%SZ >"$root/done"
log "rootfs $KEY ready in $((SECONDS - started))s ($(du -sh "$root/rootfs" | cut -f1))"
echo "$root/rootfs"
