#!/usr/bin/env bash
# Installs the coding-agent CLIs Kilroy runs in `llm.cli_profile: real` (codex,
# claude, gemini), at the exact versions pinned in tools/agents/package.json and
# package-lock.json, and links them into the repository's .tools/bin/.
#
#   bash tools/agents/install.sh        (what `make agents` runs; `make tools` too)
#
# - Needs Node.js >= 20; with an older Node (or none) it prints one line and
#   exits 0, so `make tools` still works where the agents cannot run.
# - Installs with `npm ci` (exactly the lockfile; the lockfile carries no
#   download URLs, so npm uses the configured registry) into a per-user cache
#   folder keyed by a hash of package-lock.json:
#   ${FACTORYOS_CACHE:-$HOME/.cache/factoryos}/agents/<key>/. A finished
#   install is marked by <key>/.installed; a second run only relinks and checks.
# - Platform binaries come as npm optional dependencies (@openai/codex-<os>-<arch>,
#   @anthropic-ai/claude-code-<os>-<arch>); Claude Code's postinstall only copies
#   its native binary out of that package (nothing is fetched outside npm).
# - Checks that each binary answers `--version` with no network and prints it.
#
# Progress goes to stderr; stdout is left empty.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin_dir="$repo/.tools/bin"
agents=(codex claude gemini)

say() { printf 'agents: %s\n' "$*" >&2; }

node_version="$(node -p 'process.versions.node' 2>/dev/null || true)"
node_major="${node_version%%.*}"
if [[ -z "$node_version" || ! "$node_major" =~ ^[0-9]+$ || "$node_major" -lt 20 ]] \
  || ! command -v npm >/dev/null 2>&1; then
  say "Node.js >= 20 is needed for the agent CLIs (found ${node_version:-none}); skipping"
  exit 0
fi

key="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
cache="${FACTORYOS_CACHE:-$HOME/.cache/factoryos}/agents"
dest="$cache/$key"

if [[ ! -f "$dest/.installed" ]]; then
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.install-$key-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  say "installing codex, claude and gemini (npm ci, key $key) into $dest ..."
  start=$SECONDS
  # Claude Code declares engines.node >= 22, but what it runs is a native binary
  # (no Node at run time), so the EBADENGINE warning on Node 20 is harmless.
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$work/.installed"
  # Publish atomically; if another install won the race, keep the winner.
  rm -rf "$dest.old"
  if [[ -e "$dest" ]]; then mv "$dest" "$dest.old"; fi
  mv "$work" "$dest" 2>/dev/null || true
  rm -rf "$dest.old"
  trap - EXIT
  say "installed in $((SECONDS - start)) s"
fi

mkdir -p "$bin_dir"
for name in "${agents[@]}"; do
  target="$dest/node_modules/.bin/$name"
  [[ -e "$target" ]] || { say "$target is missing; remove $dest and rerun"; exit 1; }
  ln -sfn "$target" "$bin_dir/$name"
done

# Offline check: a throwaway HOME outside /tmp (Codex refuses its helper links
# under a temporary directory and warns), no update checks, no telemetry.
check_home="$(mktemp -d "$cache/.check-XXXXXX")"
trap 'rm -rf "$check_home"' EXIT
for name in "${agents[@]}"; do
  version="$(
    HOME="$check_home" XDG_CONFIG_HOME="$check_home/.config" \
      DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
      GEMINI_CLI_NO_RELAUNCH=true NO_UPDATE_NOTIFIER=1 \
      timeout 60 "$bin_dir/$name" --version 2>/dev/null </dev/null | tail -n1
  )" || { say "$name --version failed ($bin_dir/$name)"; exit 1; }
  say "$name: $version ($bin_dir/$name)"
done
