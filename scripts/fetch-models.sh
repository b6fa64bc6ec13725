#!/usr/bin/env bash
# Install every model named by models/*.toml into $LOOKOUT_MODEL_DIR (default .runtime/models):
# copy it from $LOOKOUT_MODEL_MIRROR when that folder has it, download the manifest's url otherwise,
# and always verify the sha256. Idempotent: a present file with the right hash is left alone.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${LOOKOUT_MODEL_DIR:-$ROOT/.runtime/models}
MIRROR=${LOOKOUT_MODEL_MIRROR:-}
mkdir -p "$DEST"

# Manifests are TOML; the three keys read here are plain `key = "value"` lines at the top level.
key() { sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*$/\1/p" "$2" | head -n1; }

status=0
for manifest in "$ROOT"/models/*.toml; do
  file=$(key file "$manifest"); want=$(key sha256 "$manifest"); url=$(key url "$manifest")
  target="$DEST/$file"
  if [ -f "$target" ] && [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$want" ]; then
    continue
  fi
  if [ -n "$MIRROR" ] && [ -f "$MIRROR/$file" ]; then
    echo "models: copying $file from $MIRROR" >&2
    install -m 0644 "$MIRROR/$file" "$target.part"
  elif [[ "$url" == http*://*.onnx ]]; then
    echo "models: downloading $file from $url" >&2
    curl -fL --retry 3 -o "$target.part" "$url"
  else
    echo "models: $file: not in the mirror folder (${MIRROR:-unset}) and $manifest has no direct download; set LOOKOUT_MODEL_MIRROR to a folder that holds it" >&2
    status=1; continue
  fi
  got=$(sha256sum "$target.part" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "models: $file: sha256 $got does not match the manifest's $want; file discarded" >&2
    rm -f "$target.part"; status=1; continue
  fi
  mv "$target.part" "$target"
  echo "models: $file ok" >&2
done
exit $status
