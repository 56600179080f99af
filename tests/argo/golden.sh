#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) what Aviary's hashes and condition evaluation are checked
# against, computed by the Go code of the Argo Rollouts version go.mod pins (cmd/golden):
#   host/api/src/gojson/layout.json                  field order and omitempty of the hashed Go types
#   host/api/tests/fixtures/golden/hashes.json       Argo's hashes of the Rollouts in .../golden/rollouts
#   host/api/tests/fixtures/golden/quantities.json   quantities as Go writes them back (golden-quantities.txt)
#   plugins/expr/tests/fixtures/conditions.json      Argo's verdicts on the conditions of golden-conditions.txt
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}"
bin="${AVIARY_CACHE:-$HOME/.cache/aviary}/argo/golden"
(cd "$here" && go build -p 2 -o "$bin" ./cmd/golden) >&2

golden="$root/host/api/tests/fixtures/golden"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" layout > "$tmp/layout.json"
(cd "$golden/rollouts" && "$bin" hashes *.yaml) > "$tmp/hashes.json"
mapfile -t quantities < "$here/golden-quantities.txt"
"$bin" quantities "${quantities[@]}" > "$tmp/quantities.json"
"$bin" conditions "$here/golden-conditions.txt" > "$tmp/conditions.json"

status=0
for pair in "layout.json:$root/host/api/src/gojson/layout.json" "hashes.json:$golden/hashes.json" "quantities.json:$golden/quantities.json" \
    "conditions.json:$root/plugins/expr/tests/fixtures/conditions.json"; do
    made="$tmp/${pair%%:*}" kept="${pair#*:}"
    if [[ "${1:-}" == "--check" ]]; then
        if ! cmp -s "$made" "$kept"; then
            echo "golden: ${kept#$root/} is stale: run tests/argo/golden.sh and commit the result" >&2
            diff <(head -c 2000 "$kept") <(head -c 2000 "$made") >&2 || true
            status=1
        fi
    else
        cp "$made" "$kept"
    fi
done
exit $status
