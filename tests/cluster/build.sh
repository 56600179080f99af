#!/usr/bin/env bash
# Builds the `testcluster` binary (a real Kubernetes control plane for tests, see main.go) and prints its
# path as the last line of stdout.
#
# The output lives outside the repository (default: ${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/testcluster)
# and the Go module and build caches stay in their default places under $HOME, so a second run with
# nothing changed only re-checks the build cache and takes seconds. A cold build compiles most of
# Kubernetes and takes many minutes on 2 cores; progress goes to stderr.
#
# Env: AVIARY_TESTCLUSTER_OUT overrides the output path; GOFLAGS_EXTRA adds go build flags.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${AVIARY_TESTCLUSTER_OUT:-${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/testcluster}"
mkdir -p "$(dirname "$out")"
# A static binary, like the released Kubernetes binaries.
source "$here/../go-build.sh"

# Version stamping: without it /version says v0.0.0-master; kubectl and clients then warn about skew.
k8s_version="$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${k8s_version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
done

start=$(date +%s)
# -p 2: these machines have 2 cores, shared with other builds; more parallelism only costs memory.
(cd "$here" && go build -p 2 ${GOFLAGS_EXTRA:-} -ldflags "$ldflags" -o "$out" .) >&2
echo "testcluster: built in $(($(date +%s) - start)) s" >&2
echo "$out"
