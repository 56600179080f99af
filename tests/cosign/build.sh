#!/usr/bin/env bash
# Builds cosign (github.com/sigstore/cosign/v2/cmd/cosign at the version go.mod pins), the oracle
# of the oci:// signature tests, and prints its path as the last line of stdout. The binary lives
# outside the repository (default ${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/cosign), stamped with
# the hash of go.mod and go.sum, so a second run takes a moment; a cold build downloads and
# compiles cosign's dependencies (a few minutes on 2 cores).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${AVIARY_COSIGN_OUT:-${AVIARY_CACHE:-$HOME/.cache/aviary}/bin/cosign}"
mkdir -p "$(dirname "$out")"
source "$here/../go-build.sh"
stamp="$(go_mod_stamp "$here")"
if [[ -x "$out" && -f "$out.stamp" && "$(cat "$out.stamp")" == "$stamp" ]]; then
    echo "cosign: up to date" >&2
    echo "$out"
    exit 0
fi
start=$(date +%s)
(cd "$here" && go build -p 2 -ldflags "-s -w" -o "$out" github.com/sigstore/cosign/v2/cmd/cosign) >&2
echo "$stamp" > "$out.stamp"
echo "cosign: built in $(($(date +%s) - start)) s" >&2
echo "$out"
