#!/usr/bin/env bash
# The systemd unit's exposure, as `systemd-analyze security` rates it, must stay at or below 3.0
# ("OK"): a change that drops a hardening option fails the test command. Offline: no systemd
# needs to be running (CI machines and containers have none).
set -euo pipefail
cd "$(dirname "$0")/.."
unit=systemd/lookout.service
# --threshold counts in tenths (the default 100 is an exposure of 10.0).
if ! report=$(systemd-analyze security --offline=yes --threshold=30 --no-pager "$unit" 2>&1); then
  printf '%s\n' "$report" | grep -E '✗|Overall' >&2 || printf '%s\n' "$report" >&2
  echo "check-unit: $unit is rated above 3.0 (see the ✗ lines above)" >&2
  exit 1
fi
printf 'check-unit: %s\n' "$(printf '%s\n' "$report" | grep Overall)"
