#!/usr/bin/env bash
# Builds the real Argo Rollouts controller (`argo-rollouts-controller`) and kubectl plugin
# (`kubectl-argo-rollouts`) from the Go module pinned in go.mod, and prints the directory that
# holds them as the last line of stdout. They are the oracle of tests/argo (see README.md):
# Aviary's code never includes theirs, it runs beside it.
#
# The binaries live outside the repository (default ${AVIARY_CACHE:-$HOME/.cache/aviary}/argo/),
# stamped with the hash of go.mod and go.sum, so a second run with nothing changed takes a
# moment; the Go module and build caches stay in their default places under $HOME. A cold build
# compiles Argo Rollouts and its Kubernetes libraries: many minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${AVIARY_ARGO_OUT:-${AVIARY_CACHE:-$HOME/.cache/aviary}/argo}"
mkdir -p "$out"
source "$here/../go-build.sh"

stamp="$(go_mod_stamp "$here")"
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" && -x "$out/argo-rollouts-controller" && -x "$out/kubectl-argo-rollouts" ]]; then
    echo "argo: up to date ($(cd "$here" && go list -m -f '{{.Version}}' github.com/argoproj/argo-rollouts))" >&2
    echo "$out"
    exit 0
fi

version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/argoproj/argo-rollouts)"
ldflags="-s -w -X github.com/argoproj/argo-rollouts/utils/version.version=${version#v}"
start=$(date +%s)
# -p 2: these machines have 2 cores, shared with other builds.
(cd "$here" && go build -p 2 -ldflags "$ldflags" -o "$out/argo-rollouts-controller" github.com/argoproj/argo-rollouts/cmd/rollouts-controller) >&2
(cd "$here" && go build -p 2 -ldflags "$ldflags" -o "$out/kubectl-argo-rollouts" github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts) >&2
# Argo's CRDs as released with that version, for the scenarios that install Argo's own CRDs.
rm -rf "$out/crds" && mkdir -p "$out/crds"
moddir="$(cd "$here" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)"
cp "$moddir"/manifests/crds/*-crd.yaml "$out/crds/"
chmod -R u+w "$out/crds"
echo "$stamp" > "$out/.stamp"
echo "argo ${version}: built in $(($(date +%s) - start)) s" >&2
echo "$out"
