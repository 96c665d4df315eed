"""fttrain merge on runs of the tiny Llama: the adapter folded into the base weights, checked by logits."""

import json
from pathlib import Path

import pytest
import torch

from ftcore import load_split
from ftcore.config import write_config
from fttrain.config import load_train_config
from fttrain.merge import (
    REPORT_NAME,
    MergeCheckError,
    NoAdapterError,
    NotARunFolderError,
    OutputExistsError,
    merge_run,
    render_prompt,
)
from fttrain.run import run

MERGED_FILES = {
    "model.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    REPORT_NAME,
}


def _trained(train_config, **overrides) -> Path:
    config = load_train_config(train_config(eval_each_epoch=False, **overrides))
    run(config)
    return Path(config.output_dir)


def test_merged_model_gives_the_adapter_models_logits(train_config, tmp_path, export_dir):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = _trained(train_config)
    out = tmp_path / "merged"
    out.mkdir()  # an existing empty folder is fine
    report = merge_run(run_dir, out)

    assert report.passed and report.max_abs_logit_diff <= report.tolerance
    assert report.prompts_checked == 4 and report.split == "validation" and report.dtype == "float32"
    assert report.tolerance == pytest.approx(1e-4 * max(1.0, report.logit_scale))
    # The check means something only if losing the adapter would fail it by far.
    assert report.adapter_logit_shift > 100 * report.tolerance, report
    assert {p.name for p in out.iterdir()} == MERGED_FILES
    assert json.loads((out / REPORT_NAME).read_text()) == report.to_dict()
    assert not any(p.name.startswith(".merged") for p in tmp_path.iterdir())  # no staging folder left

    # Independently of merge.py's own check: the merged folder loads as a plain model and agrees with the adapter.
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert merged.dtype == torch.float32 and not hasattr(merged, "peft_config")
    adapter = AutoPeftModelForCausalLM.from_pretrained(run_dir)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = render_prompt(tokenizer, load_split(export_dir, "validation")[-1], 256)
    with torch.inference_mode():
        assert torch.allclose(merged(input_ids=ids).logits, adapter(input_ids=ids).logits, atol=1e-4)


def test_modules_to_save_survive_the_merge(train_config, tmp_path):
    from safetensors.torch import load_file

    run_dir = _trained(train_config, lora={"r": 8, "alpha": 16, "modules_to_save": ["embed_tokens", "lm_head"]})
    report = merge_run(run_dir, tmp_path / "merged")
    assert report.passed, report

    trained = load_file(run_dir / "adapter_model.safetensors")
    base = load_file(Path(load_train_config(train_config()).base_model.path) / "model.safetensors")
    merged = load_file(tmp_path / "merged" / "model.safetensors")
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        assert not torch.equal(trained[f"base_model.model.{name}"], base[name])  # training changed them
        assert torch.equal(merged[name], trained[f"base_model.model.{name}"]), name  # and the merge kept that


def test_qlora_adapter_merges_into_full_precision_weights(train_config, tmp_path):
    from transformers import AutoModelForCausalLM

    report = merge_run(_trained(train_config, method="qlora"), tmp_path / "merged")
    assert report.passed and report.dtype == "float32", report
    assert report.adapter_logit_shift > 100 * report.tolerance, report
    assert "quantization_config" not in json.loads((tmp_path / "merged" / "config.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_a_merge_that_loses_the_adapter_fails_and_leaves_nothing_under_out(train_config, tmp_path, monkeypatch):
    from peft.tuners.tuners_utils import BaseTuner

    run_dir = _trained(train_config)
    # The silent failure the check is for: a "merge" that drops the adapter and returns the bare base model.
    monkeypatch.setattr(BaseTuner, "merge_and_unload", BaseTuner.unload)
    out = tmp_path / "merged"
    with pytest.raises(MergeCheckError, match="merged logits differ from the adapter model's") as caught:
        merge_run(run_dir, out)
    report = caught.value.report
    assert not report.passed and report.max_abs_logit_diff == pytest.approx(report.adapter_logit_shift, rel=1e-3)
    assert not out.exists()
    failed = tmp_path / "merged.failed"
    assert caught.value.kept == failed and json.loads((failed / REPORT_NAME).read_text())["passed"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.failed", "run", "train.yaml"]


def test_bf16_merge_uses_the_bf16_tolerance(train_config, tmp_path, monkeypatch):
    from safetensors import safe_open

    run_dir = _trained(train_config)
    monkeypatch.setattr("fttrain.merge.merge_dtype", lambda: torch.bfloat16)  # what CUDA gets
    report = merge_run(run_dir, tmp_path / "merged", prompts=2)
    assert report.passed and report.dtype == "bfloat16" and report.prompts_checked == 2, report
    assert report.tolerance == pytest.approx(5e-2 * max(1.0, report.logit_scale))
    with safe_open(tmp_path / "merged" / "model.safetensors", "pt") as handle:
        assert handle.get_tensor("lm_head.weight").dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("empty folder", NotARunFolderError, "run: not a run folder (no fttrain.resolved.yaml)"),
        ("full run", NoAdapterError, "fttrain.resolved.yaml: method: full: a full fine-tune has no adapter to merge"),
        ("no adapter", NoAdapterError, "run/adapter_config.json: missing: no adapter to merge"),
        ("out not empty", OutputExistsError, "merged: exists and is not empty"),
        ("out is a file", OutputExistsError, "merged: exists and is not a folder"),
    ],
)
def test_refusals_name_the_file_before_any_model_loads(train_config, tmp_path, monkeypatch, case, error, message):
    run_dir, out = tmp_path / "run", tmp_path / "merged"
    run_dir.mkdir()
    if case != "empty folder":
        config = load_train_config(train_config(method="full" if case == "full run" else "lora"))
        write_config(config, run_dir / "fttrain.resolved.yaml")
    if case.startswith("out"):
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            (run_dir / name).write_text("{}")
    if case == "out not empty":
        out.mkdir()
        (out / "model.safetensors").write_text("x")
    if case == "out is a file":
        out.write_text("x")
    monkeypatch.setattr("fttrain.merge._load_base", pytest.fail)  # validation comes first
    with pytest.raises(error) as caught:
        merge_run(run_dir, out)
    assert message in str(caught.value)
    assert not (tmp_path / ".merged.staging").exists()
