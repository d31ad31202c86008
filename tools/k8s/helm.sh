#!/usr/bin/env bash
# Build helm at the version pinned in tools/k8s/versions.env into the per-user cache and
# print the binary's path (`make helm-bin`; about 2 minutes cold, instant when cached).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
command -v go >/dev/null || { echo "Go >= 1.26 is needed to build helm" >&2; exit 1; }
cache="${FACTORYOS_CACHE:-$HOME/.cache/factoryos}"
bin="$cache/helm/${HELM_VERSION}_$(go env GOVERSION)_$(go env GOOS)-$(go env GOARCH)/bin"
if [[ -x "$bin/helm" ]] && "$bin/helm" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
  echo "$bin/helm"
  exit 0
fi
echo "helm-bin: building helm $HELM_VERSION ..." >&2
mkdir -p "$bin"
GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 GOBIN="$bin" \
  go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
"$bin/helm" version --short >&2
echo "$bin/helm"
