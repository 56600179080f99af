#!/usr/bin/env bash
# Pins k8s.io/kubernetes in go.mod and (re)generates its staging `replace` lines.
#
# Why: k8s.io/kubernetes requires its ~30 staging modules (k8s.io/api, k8s.io/client-go, ...) at the
# non-existent version v0.0.0 and replaces them with ./staging/src/... in its own go.mod. Replace
# directives of dependencies are ignored, so a module that depends on k8s.io/kubernetes must replace each
# of them with the published v0.MINOR.PATCH tag (tagged in lockstep with v1.MINOR.PATCH). The list changes
# between minors, so it is derived from the pinned version's go.mod here, never typed by hand.
#
# Usage: tests/cluster/gen-replaces.sh [v1.36.3]   (then commit go.mod and go.sum)
# Without a version it regenerates the lines for the version go.mod already pins.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local

version="${1:-$(go list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null || true)}"
if [[ -z "$version" ]]; then
    echo "usage: $0 v1.MINOR.PATCH" >&2
    exit 2
fi
staging_version="v0.${version#v1.}"

# The .mod file of the pinned version, as served by the module proxy (cached in GOMODCACHE).
gomod="$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
if [[ ! -f "$gomod" ]]; then
    echo "could not locate the go.mod of k8s.io/kubernetes@${version}" >&2
    exit 1
fi

# Staging modules: every requirement of the form `k8s.io/NAME v0.0.0`.
mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod" | sort -u)
if [[ ${#staging[@]} -eq 0 ]]; then
    echo "no v0.0.0 staging requirements found in $gomod" >&2
    exit 1
fi

# Only the main module's godebug settings take effect: copy upstream's so the components behave as
# they were tested (e.g. `godebug default=go1.26`).
godebug="$(awk '$1 == "godebug" && $2 != "(" { print $2 }' "$gomod")"

args=("-require=k8s.io/kubernetes@${version}")
# Drop every existing k8s.io replace first so that modules removed upstream disappear too.
while read -r old; do
    [[ -n "$old" ]] && args+=("-dropreplace=${old}")
done < <(go mod edit -json | awk -F'"' '/"Old": \{/ { getline; if ($4 ~ /^k8s\.io\//) print $4 }')
for m in "${staging[@]}"; do
    args+=("-replace=${m}=${m}@${staging_version}")
done
[[ -n "$godebug" ]] && args+=("-godebug=${godebug}")
go mod edit "${args[@]}"

# Resolve the rest of the graph at the versions k8s.io/kubernetes was tested with, and complete go.sum
# (a complete go.sum means builds never need a checksum-database lookup).
GOFLAGS=-mod=mod go mod tidy
echo "pinned k8s.io/kubernetes ${version}; ${#staging[@]} staging modules replaced with ${staging_version}" >&2
