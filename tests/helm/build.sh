#!/usr/bin/env bash
# Builds Helm (the real `helm` CLI, from its Go module at the version pinned below) for the tests
# of deploy/helm/aviary, and prints its path as the last line of stdout. No Debian package ships
# Helm, and no binary is downloaded: it is built like tests/cluster, cached by version under
# ${AVIARY_CACHE:-$HOME/.cache/aviary}/bin, so a second run takes a moment.
set -euo pipefail
version="v3.22.0"
out="${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/helm-$version"
if [ -x "$out" ]; then
    echo "$out"
    exit 0
fi
mkdir -p "$(dirname "$out")"
export GOTOOLCHAIN=local CGO_ENABLED=0
start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `go install module@version` builds with Helm's own go.mod and go.sum, checked against the
# checksum database: nothing of Helm is vendored here.
GOBIN="$tmp" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" \
    "helm.sh/helm/v3/cmd/helm@$version" >&2
mv "$tmp/helm" "$out"
echo "helm $version: built in $(($(date +%s) - start)) s" >&2
echo "$out"
