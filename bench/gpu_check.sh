#!/usr/bin/env bash
# One CUDA GPU, no network, under 5 minutes: QLoRA 4-bit on a ~1B Llama-shaped model built from a
# config, bf16 compute, packing on; prints tokens/s, peak memory and model FLOPs utilisation for
# fttrain and for plain TRL on the same data.
#
#   bench/gpu_check.sh [--wheels DIR]     DIR: wheels to install missing packages from (pip --no-index)
#
# Needs a Python with torch (CUDA build) already installed; installs ftkit itself from this checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
wheels=""
[ "${1:-}" = "--wheels" ] && wheels=$2
python=${PYTHON:-python3}
"$python" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"' || { echo "gpu_check: needs a CUDA GPU" >&2; exit 1; }
if ! "$python" -c 'import ftdata, fttrain, trl, peft, bitsandbytes' 2>/dev/null; then
  if [ -n "$wheels" ]; then
    "$python" -m pip install -q --no-index --find-links "$wheels" -e . -c constraints/ftkit.txt
  else
    "$python" -m pip install -q -e . -c constraints/ftkit.txt
  fi
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
exec "$python" bench/gpu_check.py "$@"
