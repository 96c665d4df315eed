#!/usr/bin/env bash
# The README's main command (`make demo`): the ftkit loop on the bundled example, as far as it
# exists today. Every step prints the real command behind it, so you can re-run it by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${FTKIT_DEMO_OUT:-demo-out}
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1/7 Start the local Argilla server" 'eval "$(scripts/argilla-local.sh up)"'
eval "$(scripts/argilla-local.sh up)"

step "2/7 Check ftkit can reach it" "ftdata ping"
ftdata ping

expect() {  # expect CODE COMMAND...: the demo shows failures on purpose; anything else is a real failure
  local wanted=$1 status=0; shift
  "$@" || status=$?
  [ "$status" = "$wanted" ] || { echo "demo: expected exit code $wanted from '$*', got $status" >&2; exit 1; }
}
project=examples/quickstart

step "3/7 Validate the bundled candidates and write them in the contract's form" \
  "ftdata validate $project/candidates.jsonl --out $out/candidates.jsonl"
ftdata validate $project/candidates.jsonl --out "$out/candidates.jsonl"

step "4/7 What a broken file gets: every problem, with its line, and nothing written (exit 1)" \
  "ftdata validate $project/broken.jsonl --out $out/broken.jsonl"
expect 1 ftdata validate $project/broken.jsonl --out "$out/broken.jsonl"

step "5/7 Import the candidates and a messy file into the project's store (rejected rows kept aside)" \
  "ftdata import --project $project $project/candidates.jsonl $project/messy.jsonl"
status=0
ftdata import --project $project $project/candidates.jsonl $project/messy.jsonl || status=$?
[ "$status" -le 1 ] || exit "$status"

step "6/7 A file in the wrong encoding is refused whole, and the store stays as it was (exit 2)" \
  "ftdata import --project $project $project/broken.jsonl"
expect 2 ftdata import --project $project $project/broken.jsonl

step "7/7 Lint the store: every problem named, counted, traced to its source row (exit 1)" \
  "ftdata check --project $project"
expect 1 ftdata check --project $project

cat <<TXT

Done. Where to look:
  - $out/candidates.jsonl: 24 examples with their stable ids
  - $project/.ftdata/store: the project's store; \`ftdata check --project $project --json\` for the full report
  - Argilla UI: $ARGILLA_API_URL  (user 'argilla'; password: FTKIT_ARGILLA_OWNER_PASSWORD in .argilla-local/owner.env)
  - stop the server: scripts/argilla-local.sh down
TXT
