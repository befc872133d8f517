#!/usr/bin/env bash
# Renders a kustomization of deploy/kubernetes with the pinned kustomize:
#   deploy/kubernetes/render.sh overlays/production > lastmile.yaml
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || { echo "usage: $0 overlays/<name> | base" >&2; exit 2; }
KUSTOMIZE="$(bash "$HERE/install-kustomize.sh")"
exec "$KUSTOMIZE" build "$HERE/$1"
