#!/usr/bin/env bash
# Installs the tools that build Python and JavaScript plugins, at the versions the templates of
# `aviary plugin new` pin (this file is the one place they are pinned for CI and the examples;
# host/cli/src/commands/plugin_new.rs writes the same versions into each new project).
#
# Everything goes under $AVIARY_TOOLS (default ~/.cache/aviary/plugin-tools), never into the
# repository: a Python virtualenv with componentize-py, and an npm prefix with jco and
# componentize-js. The last line printed is the directory to put on PATH ($AVIARY_TOOLS/bin).
# A second run with the same versions does nothing but check them.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
JCO_VERSION=1.24.6
COMPONENTIZE_JS_VERSION=0.21.0

TOOLS="${AVIARY_TOOLS:-$HOME/.cache/aviary/plugin-tools}"
mkdir -p "$TOOLS/bin"

# Python: componentize-py bundles CPython for WASI; pip fetches a prebuilt wheel from PyPI.
if ! "$TOOLS/venv/bin/componentize-py" --version 2>/dev/null | grep -q "$COMPONENTIZE_PY_VERSION"; then
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi
ln -sf "$TOOLS/venv/bin/componentize-py" "$TOOLS/bin/componentize-py"

# JavaScript: jco drives componentize-js (SpiderMonkey built for WASI, shipped in the npm package).
stamp="$TOOLS/node/.versions"
want="jco@$JCO_VERSION componentize-js@$COMPONENTIZE_JS_VERSION"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$TOOLS/node/node_modules/.bin/jco" ]; then
  mkdir -p "$TOOLS/node"
  (cd "$TOOLS/node" && [ -f package.json ] || echo '{"private": true}' > package.json)
  npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error \
    "@bytecodealliance/jco@$JCO_VERSION" "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION"
  echo "$want" > "$stamp"
fi
ln -sf "$TOOLS/node/node_modules/.bin/jco" "$TOOLS/bin/jco"

"$TOOLS/bin/componentize-py" --version >&2
"$TOOLS/bin/jco" --version >&2
echo "$TOOLS/bin"
