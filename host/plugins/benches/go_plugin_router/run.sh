#!/usr/bin/env bash
# The anchor of `cargo bench -p aviary-plugins --bench router_call` (docs/benchmarks.md, "Traffic
# routers: one router operation"): Argo Rollouts' router call, measured on this machine.
#
# Builds main.go (a go-plugin traffic-router client and a no-op plugin, with argo-rollouts'
# own rpc package) against the module versions of tests/argo (argo-rollouts v1.10.1,
# hashicorp/go-plugin v1.7.0), in a throwaway module outside the repository, and runs it with the
# Rollout the Rust bench uses. Needs Go 1.26 and the modules tests/argo/build.sh downloads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export GOTOOLCHAIN=local # never fetch another toolchain: only the installed Go is allowed
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"

cp "$repo/tests/argo/go.mod" "$repo/tests/argo/go.sum" "$here/main.go" "$work/"
(cd "$work" && go build -p 2 -o "$work/go-plugin-router" .) >&2
"$work/go-plugin-router" "$here/../router_call_rollout.json"
