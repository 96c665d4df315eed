"""The run folder's README.md is a model card written from the run's own records (not peft's empty template): base
model and its licence, the export with its counts and licence, method and settings, losses, and the evaluation."""

import json
import shutil
from pathlib import Path

import yaml

from ftcore import ExportManifest
from fttrain.card import write_model_card
from fttrain.config import load_train_config
from fttrain.run import run


def test_the_card_says_what_the_run_is(tmp_path, tiny_model_dir, gsm8k_rows):
    from ftdata.testing import accepted_export

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# A tiny model\n")
    rows = [r for r in gsm8k_rows[:120] if len(r["answer"]) < 300][:50]
    export = accepted_export(tmp_path / "project", rows, tmp_path / "export", overrides=("license=mit",))
    manifest = ExportManifest.read(export)
    assert manifest.license == "mit"
    config = {
        "base_model": str(base), "data": str(export), "output_dir": str(tmp_path / "run"), "method": "lora",
        "max_seq_len": 256, "epochs": 2, "batch_size": 8, "gradient_accumulation": 1, "learning_rate": 3e-3,
        "logging_steps": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    }  # fmt: skip
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    summary = run(load_train_config(tmp_path / "train.yaml"))
    card = (tmp_path / "run" / "README.md").read_text()
    assert "[More Information Needed]" not in card  # peft's template is gone
    front = yaml.safe_load(card.split("---\n")[1])
    assert front == {"library_name": "peft", "license": "apache-2.0", "tags": ["ftkit", "lora"]}  # a local base
    counts = manifest.counts()
    assert f"A LoRA adapter for **{base}**" in card
    assert "- Licence: apache-2.0 (as its own files state it)" in card
    assert f"manifest fingerprint `{manifest.fingerprint}`" in card
    assert f"- Examples: test {counts['test']}, train {counts['train']}, validation {counts['validation']}" in card
    assert f"trained on {counts['train']}" in card and "- Licence: mit\n" in card
    assert "| LoRA | r 4, alpha 8, dropout 0.0, on every linear layer |" in card and "| epochs | 2 |" in card
    steps = -(-counts["train"] // 8) * 2  # batches of 8 per epoch, two epochs
    assert summary.steps == steps and f"- {steps} steps (2 epochs)" in card
    assert f"{summary.first_loss:.4f} at the first logged step, {summary.final_loss:.4f} at the last" in card
    assert f"- Validation loss: {summary.eval_loss:.4f}" in card
    assert "Not evaluated yet" in card and f'PeftModel.from_pretrained(base, "{tmp_path / "run"}")' in card

    # The evaluation's verdict, once the hook has run (fttrain's CLI records it in summary.json, then rewrites).
    recorded = json.loads((tmp_path / "run" / "summary.json").read_text())
    recorded["evaluation"] = {"results": "eval/results.json", "report": "eval/report.html", "verdict": "It wins."}
    (tmp_path / "run" / "summary.json").write_text(json.dumps(recorded))
    card = write_model_card(tmp_path / "run").read_text()
    assert "It wins.\n\nResults: `eval/results.json`; report: `eval/report.html`." in card
    assert "Not evaluated yet" not in card


def test_a_card_without_stated_licences_says_so(tmp_path, train_config):
    config = load_train_config(train_config(epochs=1, eval_each_epoch=False))
    run(config)
    card = (Path(config.output_dir) / "README.md").read_text()
    assert "license:" not in card.split("---\n")[1]  # no licence invented for the front matter
    assert "- Licence: not stated in its files: check its licence before you share this adapter" in card
    assert "- Licence: not stated (set `license` in the project's ftdata.yaml)" in card
