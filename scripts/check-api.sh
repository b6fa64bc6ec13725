#!/usr/bin/env bash
# The MQTT contract checked by a tool nobody here wrote: the official AsyncAPI parser
# (@asyncapi/parser from npm, run with node) must read docs/mqtt-api.yaml without an error.
# The parser is installed once into .runtime/asyncapi/ (idempotent; node and npm come from
# scripts/setup.sh). The messages themselves are validated against docs/schemas/ by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${LOOKOUT_ASYNCAPI_PARSER_VERSION:-3.6.6}
DIR=.runtime/asyncapi
installed=$(node -p "require('./$DIR/node_modules/@asyncapi/parser/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$VERSION" ]; then
  echo "check-api: installing @asyncapi/parser $VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "@asyncapi/parser@$VERSION" >&2
fi
exec node scripts/check-api.cjs "$PWD/$DIR/node_modules" docs/mqtt-api.yaml
