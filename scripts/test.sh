#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every test of the workspace,
# including those that start a real control plane (tests/cluster) and a real Prometheus.
#
# Needs Rust (rustup) and Go 1.26; everything else it installs itself, idempotently
# (scripts/prerequisites.sh: the Wasm targets and Debian's prometheus, python3-venv, nodejs/npm,
# kubernetes-client).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aviary/target}"
export AVIARY_CACHE_DIR="${AVIARY_CACHE_DIR:-$HOME/.cache/aviary/plugins}"

phase() { printf '\n==> %s (%s)\n' "$1" "$(date +%T)"; PHASE_START=$SECONDS; }
done_phase() { printf '<== %s took %ss\n' "$1" "$((SECONDS - PHASE_START))"; }

phase "prerequisites (scripts/prerequisites.sh: installs what is missing)"
scripts/prerequisites.sh
done_phase "prerequisites (scripts/prerequisites.sh: installs what is missing)"

phase "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
done_phase "cargo fmt --check"

phase "go fmt and unit tests of tests/cluster"
unformatted="$(gofmt -l tests/cluster tests/argo tests/registry tests/cosign)"
if [ -n "$unformatted" ]; then printf 'gofmt needed:\n%s\n' "$unformatted"; exit 1; fi
(cd tests/cluster && GOTOOLCHAIN=local CGO_ENABLED=0 go test ./internal/...)
done_phase "go fmt and unit tests of tests/cluster"

phase "tests/cluster build"
AVIARY_TESTCLUSTER="$(tests/cluster/build.sh | tail -n 1)"
export AVIARY_TESTCLUSTER
done_phase "tests/cluster build"

phase "tests/registry: an OCI registry on loopback (go-containerregistry)"
AVIARY_TEST_REGISTRY="$(tests/registry/build.sh | tail -n 1)"
export AVIARY_TEST_REGISTRY
done_phase "tests/registry: an OCI registry on loopback (go-containerregistry)"

phase "tests/cosign: cosign, the signatures' oracle (a few minutes cold)"
AVIARY_COSIGN="$(tests/cosign/build.sh | tail -n 1)"
export AVIARY_COSIGN
done_phase "tests/cosign: cosign, the signatures' oracle (a few minutes cold)"

phase "routing CRDs: Gateway API, Istio, SMI, from their Go modules (tests/cluster/routing-crds.sh)"
AVIARY_ROUTING_CRDS="$(tests/cluster/routing-crds.sh | tail -n 1)"
export AVIARY_ROUTING_CRDS
done_phase "routing CRDs: Gateway API, Istio, SMI, from their Go modules (tests/cluster/routing-crds.sh)"

phase "tests/argo: the real Argo Rollouts controller and kubectl plugin (the oracle)"
AVIARY_ARGO_DIR="$(tests/argo/build.sh | tail -n 1)"
export AVIARY_ARGO_DIR
# Aviary's hashes and Go encodings are checked against vectors Argo's own code computes; this
# recomputes them with the pinned Argo version and fails if the checked-in ones are stale.
tests/argo/golden.sh --check
done_phase "tests/argo: the real Argo Rollouts controller and kubectl plugin (the oracle)"

phase "tests/helm: Helm, built from its Go module (the chart's tests)"
AVIARY_HELM="$(tests/helm/build.sh | tail -n 1)"
export AVIARY_HELM
done_phase "tests/helm: Helm, built from its Go module (the chart's tests)"

phase "example plugins: Python (componentize-py) and JavaScript (jco)"
AVIARY_EXAMPLES_DIR="$(plugins/examples/build.sh | tail -n 1)"
export AVIARY_EXAMPLES_DIR
done_phase "example plugins: Python (componentize-py) and JavaScript (jco)"

phase "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
done_phase "cargo clippy"

phase "cargo test: build"
cargo test --workspace --no-run
done_phase "cargo test: build"

# The tests mostly wait on control planes and timers; the fuzz targets build meanwhile.
fuzz_build_log="$(mktemp)"
scripts/fuzz.sh --build-only >"$fuzz_build_log" 2>&1 &
fuzz_build=$!

phase "cargo test: run (the fuzz targets build alongside)"
# Every test binary runs even after one fails, so that one run reports every failure.
cargo test --workspace --no-fail-fast
done_phase "cargo test: run (the fuzz targets build alongside)"

phase "fuzz (scripts/fuzz.sh, ${AVIARY_FUZZ_SECONDS:-120}s per target, one per core)"
if ! wait "$fuzz_build"; then
    cat "$fuzz_build_log"
    exit 1
fi
scripts/fuzz.sh
done_phase "fuzz"
