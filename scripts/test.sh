#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm box with Rust: installs what is missing
# (scripts/setup.sh --tests, idempotent), then the unit file's and the MQTT contract's checks by outside
# tools (systemd-analyze, the official AsyncAPI parser), format check, lints, and every test —
# unit tests, the detector on real images, and end-to-end runs on real footage against a real
# Mosquitto.
set -euo pipefail
# One build per run: incremental caches only double what the target folder holds on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/check-unit.sh
scripts/check-api.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
