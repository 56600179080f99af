#!/usr/bin/env bash
# Installs what the test suite needs and the machine lacks, and nothing else: idempotent, and a
# second run takes a moment. scripts/test.sh runs it first, so a fresh clone needs no other
# command; .ci/run is scripts/test.sh on a fresh machine.
#
#   Rust targets   wasm32-wasip2, wasm32-unknown-unknown (rustup; rust-toolchain.toml lists them)
#   Debian         prometheus and graphite-web (provider tests), python3-venv and nodejs/npm (the example plugins:
#                  plugins/examples/install-tools.sh then fetches componentize-py, jco and
#                  componentize-js into ~/.cache), kubernetes-client (kubectl: the walk of
#                  docs/writing-a-plugin.md and the install tests), chromium and chromium-driver (the
#                  dashboard's browser tests)
#   Go             1.26 or newer must be on PATH already (tests/cluster, tests/argo and Helm are
#                  built from Go modules); Debian's golang is too old, so it is not installed here.
set -euo pipefail

for target in wasm32-wasip2 wasm32-unknown-unknown; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        rustup target add "$target"
    fi
done

packages=()
command -v prometheus >/dev/null || packages+=(prometheus)
# graphite-web for Debian's own Python (the graphite provider's tests serve it on loopback)
/usr/bin/python3 -c 'import django, graphite, whisper' 2>/dev/null || packages+=(graphite-web)
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3 python3-venv)
command -v npm >/dev/null || packages+=(nodejs npm)
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
if ((${#packages[@]})); then
    if ! command -v apt-get >/dev/null; then
        printf 'missing, and no apt-get to install them: %s\n' "${packages[*]}" >&2
        exit 2
    fi
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    printf 'installing Debian packages: %s\n' "${packages[*]}"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${packages[@]}"
fi

if ! command -v go >/dev/null; then
    echo "Go 1.26 or newer is needed on PATH (https://go.dev/dl/): tests/cluster, tests/argo and Helm are built from Go modules" >&2
    exit 2
fi
