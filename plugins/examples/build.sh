#!/usr/bin/env bash
# Builds the Python and JavaScript json-number examples into components, after their own unit
# tests (the Rust one is built with the other guests by host/plugins/build.rs). CI runs this from
# scripts/test.sh; host/cli/tests/examples.rs runs it too, so `cargo test` alone is enough.
#
# The tools come from install-tools.sh (under ~/.cache, never the repository). The components go
# to $AVIARY_EXAMPLES_OUT/<hash of the sources and tool versions>/ (default
# ~/.cache/aviary/examples), so an unchanged example is not rebuilt: a build costs tens of
# seconds per language. Prints the build time of each language on stderr, writes them to
# build-times.txt next to the components, and prints the directory as its last line:
#   json_number_python.wasm, json_number_js.wasm, build-times.txt
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

tools="$("$here/install-tools.sh" | tail -n 1)"
export PATH="$tools:$PATH"

key="$(cd "$here" && cat install-tools.sh build.sh python/*.py python/wit/*.wit js/app.js js/package.json js/wit/*.wit \
  | sha256sum | cut -c1-16)"
root="${AVIARY_EXAMPLES_OUT:-$HOME/.cache/aviary/examples}"
out="$root/$key"
if [ -f "$out/json_number_python.wasm" ] && [ -f "$out/json_number_js.wasm" ]; then
  printf 'examples up to date in %s\n' "$out" >&2
  echo "$out"
  exit 0
fi

mkdir -p "$root"
tmp="$(mktemp -d "$root/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
(
  cd "$here/python"
  PYTHONDONTWRITEBYTECODE=1 python3 -m unittest --quiet
  PYTHONDONTWRITEBYTECODE=1 componentize-py -d wit -w metric-provider componentize app -o "$tmp/json_number_python.wasm"
) >&2
python_s=$((SECONDS - start))
printf 'python example built in %ss (componentize-py)\n' "$python_s" >&2

start=$SECONDS
(
  cd "$here/js"
  node --import ./test/register.js --test test/app.test.js
  jco componentize app.js --wit wit -n metric-provider --disable http fetch-event -o "$tmp/json_number_js.wasm"
) >&2
js_s=$((SECONDS - start))
printf 'js example built in %ss (jco componentize)\n' "$js_s" >&2

printf 'python %s\njs %s\n' "$python_s" "$js_s" >"$tmp/build-times.txt"
# Another build of the same sources may have finished first; either result is the same.
if ! mv -T "$tmp" "$out" 2>/dev/null; then
  [ -f "$out/json_number_js.wasm" ] || { echo "cannot move the examples to $out" >&2; exit 1; }
fi
trap - EXIT
echo "$out"
