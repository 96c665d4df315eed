"""`fttrain run` and `fteval run` as a user starts them, from a folder outside any git repository: stderr holds
ftkit's own progress and results, none of the libraries' noise (bitsandbytes' hint about a hub kernel, lm-eval's
`git describe` failing, transformers' FutureWarning about what peft reads, tqdm bars drawn between ours)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
NOISE = ("kernels-community", "fatal:", "not a git repository", "Warning", "warnings.warn", "it/s]", "Traceback")


def noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(mark in line for mark in NOISE)]


@pytest.mark.slow
def test_train_with_its_evaluation_then_an_evaluation_print_no_library_noise(tmp_path, tiny_model_dir, export_dir):
    eval_config = {
        "data": str(export_dir), "style": str(REPO / "examples" / "quickstart" / "style.yaml"),
        "system_prompt": "Answer in the house format.", "max_new_tokens": 8, "batch_size": 8, "limit": 4,
        "capability_limit": 4,
    }  # fmt: skip
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(eval_config))
    train_config = {
        "base_model": str(tiny_model_dir), "data": str(export_dir), "output_dir": str(tmp_path / "run"),
        "method": "qlora", "max_seq_len": 256, "epochs": 1, "batch_size": 8, "gradient_accumulation": 1,
        "train_limit": 16, "evaluate": "eval.yaml",
    }  # fmt: skip
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train_config))
    env = {**os.environ, "PYTHONWARNINGS": ""}  # Python's default: FutureWarnings show, as a user sees them
    assert subprocess.run(["git", "rev-parse"], cwd=tmp_path, capture_output=True).returncode != 0  # no repository
    trained = subprocess.run([str(BIN / "fttrain"), "run", "train.yaml"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert noise(trained.stderr) == [], trained.stderr
    # The evaluation it ran shows its phases too, in the same display.
    assert "Verdict." in trained.stderr and "lm-eval capability suite: finetuned" in trained.stderr
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(eval_config | {"run": "run", "output_dir": "again"}))
    evaluated = subprocess.run([str(BIN / "fteval"), "run", "eval.yaml"], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=600)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert noise(evaluated.stderr) == [], evaluated.stderr
    assert "held-out loss: finetuned" in evaluated.stderr
