#!/usr/bin/env bash
# Builds `registry` (main.go: go-containerregistry's OCI registry on loopback, with Basic
# authentication for private repositories) and prints its path as the last line of stdout.
# The output lives outside the repository (default ${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/registry);
# the Go caches stay in their default places, so a second run takes a moment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${AVIARY_REGISTRY_OUT:-${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/registry}"
mkdir -p "$(dirname "$out")"
source "$here/../go-build.sh"
start=$(date +%s)
(cd "$here" && go build -p 2 -ldflags "-s -w" -o "$out" .) >&2
echo "registry: built in $(($(date +%s) - start)) s" >&2
echo "$out"
