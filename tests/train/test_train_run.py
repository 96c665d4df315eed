"""fttrain run on a tiny Llama and an export made by ftdata's own export code."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from resume_helpers import assert_resumed_like_uncut, logged_steps, uncut_run

from ftcore import ExportManifest
from fttrain.cli import main
from fttrain.config import load_train_config
from fttrain.run import RUN_FILES, last_complete_checkpoint, run

ADAPTER_FILES = {"adapter_config.json", "adapter_model.safetensors"}
TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}


def test_lora_learns_and_the_run_folder_explains_itself(train_config, export_dir):
    # A random model learns through its embeddings and head (see the issue): train them fully beside LoRA.
    config = load_train_config(
        train_config(epochs=4, lora={"r": 8, "alpha": 16, "modules_to_save": ["embed_tokens", "lm_head"]})
    )
    summary = run(config)
    out = Path(config.output_dir)
    files = {p.name for p in out.iterdir()}
    assert set(RUN_FILES) | ADAPTER_FILES | TOKENIZER_FILES | {"checkpoints"} <= files, files
    assert summary["final_loss"] < summary["first_loss"] - 0.5, summary
    assert summary["steps"] == 4 * 8  # 64 training examples / batch 8, four epochs
    assert summary["data_manifest"] == ExportManifest.read(export_dir).fingerprint
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    training = [m for m in metrics if "loss" in m]
    assert len(training) == 32 and all(m["tokens_per_second"] > 0 and m["peak_memory_mb"] > 0 for m in training)
    validation = [m for m in metrics if "eval_loss" in m]
    assert [m["step"] for m in validation] == [8, 16, 24, 32]  # each epoch once: none again after training
    assert summary["eval_loss"] == validation[-1]["eval_loss"]
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    environment = json.loads((out / "environment.json").read_text())
    assert environment["versions"]["peft"] and environment["seed"] == 13
    assert json.loads((out / "data_manifest.json").read_text())["fingerprint"] == summary["data_manifest"]


@pytest.mark.parametrize(
    ("settings", "steps"),
    [({"epochs": 2}, [8, 16]), ({"epochs": 1, "eval_each_epoch": False}, [8]),
     ({"epochs": 2, "early_stopping_patience": 3}, [8, 16])],
)  # fmt: skip
def test_the_saved_model_is_validated_once_per_step(train_config, settings, steps):
    """One validation line per evaluated step in metrics.jsonl: the last epoch's evaluation is the final one (no
    second pass over the validation split at the last step), and summary.json's eval_loss is the saved model's: the
    last one, or with early stopping (the best model loaded at the end) the lowest."""
    config = load_train_config(train_config(**settings))
    summary = run(config)
    metrics = [json.loads(line) for line in (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()]
    validation = [m for m in metrics if "eval_loss" in m]
    assert [m["step"] for m in validation] == steps
    losses = [m["eval_loss"] for m in validation]
    assert summary["eval_loss"] == (min(losses) if config.early_stopping_patience else losses[-1])


def test_qlora_runs_the_real_4bit_path_on_cpu(train_config):
    import bitsandbytes as bnb
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = load_train_config(train_config(method="qlora", epochs=1))
    summary = run(config)
    assert summary["steps"] == 8 and summary["method"] == "qlora"
    base = AutoModelForCausalLM.from_pretrained(
        config.base_model.path, quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    )
    assert any(isinstance(module, bnb.nn.Linear4bit) for module in base.modules())
    model = PeftModel.from_pretrained(base, config.output_dir)  # the adapter reloads onto a 4-bit base
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_full_fine_tune(train_config):
    config = load_train_config(train_config(method="full", epochs=1, learning_rate=1e-3))
    summary = run(config)
    assert summary["steps"] == 8
    assert (Path(config.output_dir) / "model.safetensors").exists()


def test_killed_run_resumes_where_it_stopped_and_ends_as_an_uncut_run(train_config, tmp_path):
    path = train_config(epochs=3, save_steps=4, learning_rate=1e-3)
    config = load_train_config(path)
    checkpoints = Path(config.output_dir) / "checkpoints"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    fttrain = str(Path(sys.executable).parent / "fttrain")
    process = subprocess.Popen(
        [fttrain, "run", str(path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not (checkpoints / "checkpoint-8").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (Path(config.output_dir) / "summary.json").exists()

    again = CliRunner().invoke(main, ["run", str(path)])
    assert again.exit_code == 2 and "pass --resume" in again.output
    checkpoint = last_complete_checkpoint(Path(config.output_dir))
    steps_before = logged_steps(Path(config.output_dir))
    resumed = subprocess.run([fttrain, "run", str(path), "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((Path(config.output_dir) / "summary.json").read_text())
    assert summary["steps"] == 3 * 8  # as many as an uninterrupted run
    checkpoint_step = int(checkpoint.name.removeprefix("checkpoint-"))
    assert checkpoint_step >= 4
    uncut = uncut_run(config, tmp_path / "uncut")
    assert_resumed_like_uncut(Path(config.output_dir), uncut, checkpoint_step, steps_before)

    from peft import AutoPeftModelForCausalLM

    assert AutoPeftModelForCausalLM.from_pretrained(config.output_dir) is not None  # the final adapter loads


def test_dry_run_prints_one_example_token_by_token(train_config):
    result = CliRunner().invoke(main, ["run", str(train_config()), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "lose assistant tokens to max_seq_len=256" in result.output
    assert "TRAIN" in result.output and "<|im_start|>" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.write_text(p.read_text() + "learnin_rate: 0.1\n"),
            "learnin_rate: unknown key (did you mean 'learning_rate'?)",
        ),
        (lambda p: p.write_text(p.read_text() + "epochs: many\n"), "epochs: expected a number, got 'many'"),
        (lambda p: p.write_text(p.read_text().replace("data: ", "data: /nonexistent")), "is not a folder"),
    ],
)
def test_bad_config_is_a_clear_error_before_any_model_loads(train_config, change, message):
    path = train_config()
    change(path)
    result = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_changed_export_and_missing_chat_template(train_config, export_dir, tmp_path, tiny_model_dir):
    import shutil

    data = tmp_path / "export"
    shutil.copytree(export_dir, data)
    with (data / "train.jsonl").open("a") as handle:
        handle.write('{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n')
    result = CliRunner().invoke(main, ["run", str(train_config(data=str(data))), "--dry-run"])
    assert result.exit_code == 2 and "content differs from the manifest" in result.output

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "chat_template.jinja").unlink()
    result = CliRunner().invoke(main, ["run", str(train_config(base_model=str(model))), "--dry-run"])
    assert result.exit_code == 2 and "has no chat template" in result.output


def test_resume_skips_a_checkpoint_cut_off_while_saving(tmp_path):
    for step, complete in ((4, True), (8, True), (12, False)):
        folder = tmp_path / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path).name == "checkpoint-8"
    assert last_complete_checkpoint(tmp_path / "elsewhere") is None


def test_json_on_stdout_text_on_stderr(train_config, tmp_path):
    path = train_config(epochs=1)
    dry = CliRunner().invoke(main, ["run", str(path), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    found = json.loads(dry.stdout)  # nothing but JSON on stdout
    assert found["max_seq_len"] == 256 and found["train_examples"] == 64 and "lose assistant" not in dry.stdout
    tokens = found["example_tokens"]
    assert {"id", "text", "trained"} == set(tokens[0]) and any(t["trained"] for t in tokens)
    assert "".join(t["text"] for t in tokens).startswith("<|im_start|>system")

    trained = CliRunner().invoke(main, ["run", str(path), "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["steps"] == 8 and summary["run_folder"] == str(tmp_path / "run")
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary == {**written, "run_folder": str(tmp_path / "run")}
    assert "training" not in trained.stderr  # --json: no progress bar either

    again = CliRunner().invoke(main, ["run", str(train_config(epochs=1, output_dir=str(tmp_path / "run2")))])
    assert again.exit_code == 0, again.output
    assert again.stdout == "" and "8 steps (1 epochs) on 64 examples" in again.stderr
    assert f"run folder: {tmp_path / 'run2'}" in again.stderr
