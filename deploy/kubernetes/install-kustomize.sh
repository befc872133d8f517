#!/usr/bin/env bash
# Builds the pinned kustomize from the Go module proxy (`go install`), once, into
#   ${LASTMILE_CACHE:-$HOME/.cache/lastmile}/kustomize-<version>/kustomize
# and prints its path. deploy/local/install.sh runs it; render.sh and the manifest test use it.
set -euo pipefail
VERSION=v5.7.1
CACHE="${LASTMILE_CACHE:-${HOME:-$(cd ~ && pwd)}/.cache/lastmile}"
DEST="$CACHE/kustomize-$VERSION"
if [[ -x "$DEST/kustomize" ]] && "$DEST/kustomize" version >/dev/null 2>&1; then
  echo "$DEST/kustomize"
  exit 0
fi
GO="$(command -v go || true)"
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; }
[[ -n "$GO" ]] || { echo "[kustomize] ERROR: no Go toolchain (go) to build kustomize $VERSION with" >&2; exit 1; }
mkdir -p "$DEST"
echo "[kustomize] building sigs.k8s.io/kustomize/kustomize/v5@$VERSION (go install, about 2 minutes once)" >&2
GOBIN="$DEST" GOFLAGS=-mod=mod "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION" >&2 \
  || { echo "[kustomize] ERROR: go install failed: check that the Go module proxy is reachable (go env GOPROXY)" >&2; exit 1; }
echo "$DEST/kustomize"
