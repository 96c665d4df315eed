#!/usr/bin/env bash
# Times scripts/argilla-local.sh in a throw-away state folder on spare ports, so it never touches
# your own .argilla-local: cold `up` (new virtualenv + database), `up` when already running,
# `down`, and warm `up` (virtualenv and data kept). pip's download cache still helps "cold" here;
# on a machine that never downloaded the wheels, add the download time.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FTKIT_ARGILLA_HOME=$(mktemp -d) FTKIT_ARGILLA_PORT=16901 FTKIT_ARGILLA_ES_PORT=19201 FTKIT_ARGILLA_REDIS_PORT=16380
trap 'bash "$repo/scripts/argilla-local.sh" down >/dev/null 2>&1; rm -rf "$FTKIT_ARGILLA_HOME"' EXIT

timed() {
  local start=$EPOCHREALTIME
  bash "$repo/scripts/argilla-local.sh" "$2" >/dev/null 2>&1
  awk -v label="$1" -v start="$start" -v end="$EPOCHREALTIME" 'BEGIN { printf "%-28s %6.1f s\n", label, end - start }'
}

timed "cold up (install + migrate)" up
timed "up, already running" up
timed "down" down
timed "warm up" up
