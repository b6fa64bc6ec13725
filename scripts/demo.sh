#!/usr/bin/env bash
# The demo on a fresh Debian bookworm box with Rust: installs what is missing (scripts/setup.sh,
# idempotent), then runs the example cameras on real footage with an embedded MQTT broker and
# prints the work orders as the command centre receives them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --release --locked -- demo "$@"
