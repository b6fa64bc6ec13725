#!/usr/bin/env bash
# Install lookout as a systemd service on a box (Debian/JetPack), idempotently:
#   sudo scripts/install.sh [path/to/lookout-binary]
# Binary → /usr/bin/lookout; manifests → /usr/share/lookout/models; ONNX Runtime → /usr/lib/lookout;
# user, folders and unit from systemd/; a config is created with `lookout init` if there is none.
# Then: lookout models fetch …, lookout camera add …, lookout doctor, systemctl start lookout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/release/lookout}
[ -x "$BIN" ] || { echo "install: no binary at $BIN (cargo build --release)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "install: run as root" >&2; exit 2; }

install -D -m 0755 "$BIN" /usr/bin/lookout
install -d /usr/share/lookout/models /usr/lib/lookout
install -m 0644 "$ROOT"/models/*.toml /usr/share/lookout/models/
if [ -e "$ROOT/.runtime/onnxruntime/libonnxruntime.so" ]; then
  cp -L "$ROOT/.runtime/onnxruntime/libonnxruntime.so" /usr/lib/lookout/libonnxruntime.so
fi
install -D -m 0644 "$ROOT/systemd/lookout.sysusers.conf" /usr/lib/sysusers.d/lookout.conf
install -D -m 0644 "$ROOT/systemd/lookout.tmpfiles.conf" /usr/lib/tmpfiles.d/lookout.conf
install -D -m 0644 "$ROOT/systemd/lookout.service" /etc/systemd/system/lookout.service
systemd-sysusers /usr/lib/sysusers.d/lookout.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/lookout.conf
if [ ! -e /etc/lookout/lookout.toml ]; then
  /usr/bin/lookout init --config /etc/lookout/lookout.toml \
    --site "${LOOKOUT_SITE:-site}" --box "${LOOKOUT_BOX:-$(hostname -s | tr -c 'A-Za-z0-9_\n-' '-')}"
  chgrp lookout /etc/lookout/lookout.toml && chmod 0640 /etc/lookout/lookout.toml
fi
systemctl daemon-reload
systemctl enable lookout.service
echo "install: done. Next: lookout models fetch, camera add, zone add, calibrate, mqtt set, doctor (docs/provisioning.md); then systemctl start lookout"
