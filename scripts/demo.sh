#!/usr/bin/env bash
# The README's main command (`make demo`): the ftkit loop on the bundled example, as far as it
# exists today. Every step prints the real command behind it, so you can re-run it by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${FTKIT_DEMO_OUT:-demo-out}
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1/4 Start the local Argilla server" 'eval "$(scripts/argilla-local.sh up)"'
eval "$(scripts/argilla-local.sh up)"

step "2/4 Check ftkit can reach it" "ftdata ping"
ftdata ping

step "3/4 Validate the bundled candidates and write them in the contract's form" \
  "ftdata validate examples/quickstart/candidates.jsonl --out $out/candidates.jsonl"
ftdata validate examples/quickstart/candidates.jsonl --out "$out/candidates.jsonl"

step "4/4 What a broken file gets: every problem, with its line, and nothing written" \
  "ftdata validate examples/quickstart/broken.jsonl --out $out/broken.jsonl"
set +e
ftdata validate examples/quickstart/broken.jsonl --out "$out/broken.jsonl"
status=$?
set -e
[ "$status" = 1 ] || { echo "demo: expected exit code 1 for the broken file, got $status" >&2; exit 1; }

cat <<TXT

Done. Where to look:
  - $out/candidates.jsonl: 24 examples with their stable ids, ready for the next steps
  - Argilla UI: $ARGILLA_API_URL  (user 'argilla'; password: FTKIT_ARGILLA_OWNER_PASSWORD in .argilla-local/owner.env)
  - stop the server: scripts/argilla-local.sh down
TXT
