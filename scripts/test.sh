#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every test of the workspace,
# including those that start a real control plane (tests/cluster) and a real Prometheus.
#
# Prerequisites (.ci/run installs them): the wasm32-wasip2 Rust target, Debian's `prometheus`,
# Go 1.26 for tests/cluster, Python 3 with venv and Node.js 20 with npm for the example plugins
# (plugins/examples/install-tools.sh fetches componentize-py, jco and componentize-js into ~/.cache),
# kubectl for the walk of docs/writing-a-plugin.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aviary/target}"
export AVIARY_CACHE_DIR="${AVIARY_CACHE_DIR:-$HOME/.cache/aviary/plugins}"

phase() { printf '\n==> %s (%s)\n' "$1" "$(date +%T)"; PHASE_START=$SECONDS; }
done_phase() { printf '<== %s took %ss\n' "$1" "$((SECONDS - PHASE_START))"; }

missing=()
for target in wasm32-wasip2 wasm32-unknown-unknown; do
    rustup target list --installed 2>/dev/null | grep -qx "$target" || missing+=("rustup target add $target")
done
command -v prometheus >/dev/null || missing+=("apt-get install prometheus")
command -v go >/dev/null || missing+=("Go 1.26 (for tests/cluster)")
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=("apt-get install python3-venv (for plugins/examples)")
command -v npm >/dev/null || missing+=("apt-get install nodejs npm (for plugins/examples)")
command -v kubectl >/dev/null || missing+=("apt-get install kubernetes-client (kubectl, for docs/writing-a-plugin.md's walk)")
if ((${#missing[@]})); then
  printf 'missing prerequisites:\n'; printf '  %s\n' "${missing[@]}"; exit 2
fi

phase "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
done_phase "cargo fmt --check"

phase "go fmt and unit tests of tests/cluster"
unformatted="$(gofmt -l tests/cluster)"
if [ -n "$unformatted" ]; then printf 'gofmt needed:\n%s\n' "$unformatted"; exit 1; fi
(cd tests/cluster && GOTOOLCHAIN=local CGO_ENABLED=0 go test ./internal/...)
done_phase "go fmt and unit tests of tests/cluster"

phase "tests/cluster build"
AVIARY_TESTCLUSTER="$(tests/cluster/build.sh | tail -n 1)"
export AVIARY_TESTCLUSTER
done_phase "tests/cluster build"

phase "example plugins: Python (componentize-py) and JavaScript (jco)"
AVIARY_EXAMPLES_DIR="$(plugins/examples/build.sh | tail -n 1)"
export AVIARY_EXAMPLES_DIR
done_phase "example plugins: Python (componentize-py) and JavaScript (jco)"

phase "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
done_phase "cargo clippy"

phase "cargo test"
cargo test --workspace
done_phase "cargo test"

phase "fuzz (scripts/fuzz.sh, ${AVIARY_FUZZ_SECONDS:-120}s per target)"
scripts/fuzz.sh
done_phase "fuzz"
