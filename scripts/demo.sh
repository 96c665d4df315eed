#!/usr/bin/env bash
# The README's main command (`make demo`): the ftkit loop on the bundled example, as far as it
# exists today. Every step prints the real command behind it, so you can re-run it by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${FTKIT_DEMO_OUT:-demo-out}
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1/10 Start the local Argilla server" 'eval "$(scripts/argilla-local.sh up)"'
eval "$(scripts/argilla-local.sh up)"

step "2/10 Check ftkit can reach it" "ftdata ping"
ftdata ping

expect() {  # expect CODE COMMAND...: the demo shows failures on purpose; anything else is a real failure
  local wanted=$1 status=0; shift
  "$@" || status=$?
  [ "$status" = "$wanted" ] || { echo "demo: expected exit code $wanted from '$*', got $status" >&2; exit 1; }
}
project=examples/quickstart

step "3/10 Validate the bundled candidates and write them in the contract's form" \
  "ftdata validate $project/candidates.jsonl --out $out/candidates.jsonl"
ftdata validate $project/candidates.jsonl --out "$out/candidates.jsonl"

step "4/10 What a broken file gets: every problem, with its line, and nothing written (exit 1)" \
  "ftdata validate $project/broken.jsonl --out $out/broken.jsonl"
expect 1 ftdata validate $project/broken.jsonl --out "$out/broken.jsonl"

step "5/10 Import the candidates and a messy file into the project's store (rejected rows kept aside)" \
  "ftdata import --project $project $project/candidates.jsonl $project/messy.jsonl"
status=0
ftdata import --project $project $project/candidates.jsonl $project/messy.jsonl || status=$?
[ "$status" -le 1 ] || exit "$status"

step "6/10 A file in the wrong encoding is refused whole, and the store stays as it was (exit 2)" \
  "ftdata import --project $project $project/broken.jsonl"
expect 2 ftdata import --project $project $project/broken.jsonl

step "7/10 Lint the store: every problem named, counted, traced to its source row (exit 1)" \
  "ftdata check --project $project"
expect 1 ftdata check --project $project

step "8/10 Push the examples to Argilla for review (an upsert: running it again duplicates nothing)" \
  "ftdata push --project $project"
ftdata push --project $project

step "9/10 An annotator account for you to try the review (credentials go to a private file)" \
  "ftdata annotators add demo-annotator --project $project --out $out/demo-annotator.credentials.json"
ftdata annotators add demo-annotator --project $project --out "$out/demo-annotator.credentials.json"

step "10/10 Review progress and agreement (nothing reviewed yet: review a few records in the UI, run it again)" \
  "ftdata status --project $project"
ftdata status --project $project

cat <<TXT

Done. Where to look:
  - $out/candidates.jsonl: 24 examples with their stable ids
  - $project/.ftdata/store: the project's store; \`ftdata check --project $project --json\` for the full report
  - Argilla UI: $ARGILLA_API_URL  sign in as demo-annotator (password in $out/demo-annotator.credentials.json,
    if this run created it) or as the owner 'argilla' (FTKIT_ARGILLA_OWNER_PASSWORD in .argilla-local/owner.env)
  - then: ftdata status / pull / export --allow-small --project $project
  - stop the server: scripts/argilla-local.sh down
TXT
