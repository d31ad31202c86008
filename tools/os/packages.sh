#!/usr/bin/env bash
# Install Debian packages that are missing, idempotently:
#   tools/os/packages.sh PACKAGE:FILE...
# A package is installed only when FILE (what we use from it) is absent. Uses
# apt-get (through sudo when not root); without apt-get it says what to install.
set -euo pipefail

missing=()
for spec in "$@"; do
  pkg="${spec%%:*}" file="${spec#*:}"
  [[ -e "$file" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "missing: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (a second make, unattended upgrades) instead of failing at once.
apt=($sudo apt-get -o DPkg::Lock::Timeout=600 -y -q)
if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; then
  "${apt[@]}" update >/dev/null
  "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
fi
for spec in "$@"; do
  [[ -e "${spec#*:}" ]] || { echo "installed ${spec%%:*}, but ${spec#*:} is still missing" >&2; exit 1; }
done
