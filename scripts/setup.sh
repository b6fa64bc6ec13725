#!/usr/bin/env bash
# Idempotent set-up for a Debian bookworm box with Rust:
#   1. apt packages (GStreamer dev + plugins, RTSP server, Mosquitto, ALSA output, espeak-ng,
#      a CJK font for the evidence photos; with --tests also Chromium + chromedriver for the
#      console's browser test),
#   2. the ONNX Runtime shared library from the `onnxruntime` PyPI wheel into .runtime/onnxruntime/,
#   3. the models named by models/*.toml (copied from LOOKOUT_MODEL_MIRROR or ../shared/models when
#      present, downloaded otherwise; sha256 always verified).
# Each step does nothing when its result is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ORT_VERSION=${LOOKOUT_ORT_VERSION:-1.32.0}

log() { printf 'setup: %s\n' "$*" >&2; }

APT_PACKAGES=(
  pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav gstreamer1.0-rtsp
  mosquitto mosquitto-clients
  gstreamer1.0-alsa espeak-ng
  # The evidence photos' captions and labels: a font with Chinese glyphs (src/evidence).
  fonts-wqy-microhei
  unzip curl ca-certificates python3-pip
  # systemd-analyze, for the unit's security rating (scripts/check-unit.sh); no daemon needed.
  systemd
  # Certificates for the TLS tests and for a technician's console certificate.
  openssl
)

# `--tests` (scripts/test.sh): what only the test suite needs — headless Chromium and its
# WebDriver server for the web console's browser test (tests/console_browser.rs). The demo and
# a box do without these ~300 MB.
if [ "${1:-}" = "--tests" ]; then
  APT_PACKAGES+=(chromium chromium-driver)
fi

# node and npm run the official AsyncAPI parser on the MQTT contract (scripts/check-api.sh).
# A box that already has a node (e.g. NodeSource's, which bundles npm) keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  APT_PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package enables a system-wide broker; tests start their own on free ports.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

# The crate is built against the 1.20 API (JetPack 6 ships ONNX Runtime 1.20), so any library
# from 1.20 on works; on x86 the newer one is about twice as fast (8.8 vs 17 ms for YOLOX-Nano).
ORT_DIR="$ROOT/.runtime/onnxruntime"
if ! [ -f "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
  rm -f "$ORT_DIR"/libonnxruntime.so*
  log "fetching ONNX Runtime $ORT_VERSION from the onnxruntime wheel on PyPI"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$ORT_DIR"
  unzip -q -o -j "$tmp"/onnxruntime-*.whl 'onnxruntime/capi/libonnxruntime.so.1*' -d "$ORT_DIR"
fi
lib=$(ls "$ORT_DIR"/libonnxruntime.so.1.* | head -n1)
ln -sf "$(basename "$lib")" "$ORT_DIR/libonnxruntime.so"
log "ONNX Runtime: $lib"

# Models: the manifests say what to fetch; the Rust CLI does the work so the logic lives in one place.
mirror=${LOOKOUT_MODEL_MIRROR:-}
if [ -z "$mirror" ] && [ -d "$ROOT/../shared/models" ]; then mirror="$ROOT/../shared/models"; fi
export LOOKOUT_MODEL_MIRROR="$mirror"
"$ROOT/scripts/fetch-models.sh"
