"""A run folder read through its types: what fteval and merge need from a run, without the trainer's code."""

import json

import pytest

from ftcore.manifest import ExportManifest, SplitFile
from ftcore.models import BaseModel
from ftcore.run_folder import DataRecord, NotARunFolderError, RunFolder, RunFolderError, RunSummary


def manifest() -> ExportManifest:
    split = SplitFile(path="train.jsonl", examples=2, sha256="ab" * 32, bytes=10)
    return ExportManifest(
        dataset="d",
        splits={"train": split},
        source_snapshot="s",
        guideline_version="g",
        seed=13,
        split_ratios={"train": 1.0},
        tool_version="0.1.0",
        created_at="2026-01-01T00:00:00+00:00",
    )


def test_summary_round_trips_and_reads_like_its_json(tmp_path):
    summary = RunSummary(steps=32, epochs=4.0, final_loss=0.5, tokens_seen=1234, data_manifest="f" * 64, method="lora")
    RunFolder(tmp_path).write_summary(summary)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["steps"] == 32 and on_disk["tokens_seen"] == 1234 and "evaluation" not in on_disk
    read = RunFolder(tmp_path).summary
    assert read == summary and read["final_loss"] == 0.5 and dict(read) == on_disk
    summary.evaluation = {"verdict": "v"}
    RunFolder(tmp_path).write_summary(summary)
    assert json.loads((tmp_path / "summary.json").read_text())["evaluation"] == {"verdict": "v"}


def test_a_summary_with_keys_of_another_version_still_reads(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 3, "a_later_key": 1}))
    assert RunSummary.read(tmp_path / "summary.json").steps == 3
    assert RunFolder(tmp_path / "nothing").summary is None  # a run that has not finished


def test_the_data_record_keeps_the_file_format(tmp_path):
    record = DataRecord.of(manifest(), "/data/export")
    RunFolder(tmp_path).write_data_record(record)
    raw = json.loads((tmp_path / "data_manifest.json").read_text())
    assert raw["fingerprint"] == manifest().fingerprint and raw["folder"] == "/data/export" and raw["dataset"] == "d"
    assert RunFolder(tmp_path).data == record


def test_base_model_from_the_resolved_config(tmp_path):
    (tmp_path / "fttrain.resolved.yaml").write_text("base_model: {path: /m, gguf_file: m.gguf, dtype: float32}\n")
    assert RunFolder.open(tmp_path).base_model == BaseModel("/m", "m.gguf", "float32")
    # A run written before base_model was a section.
    legacy = "base_model: /m\ngguf_file: m.gguf\nlora: {r: 8}\nquant: {quant_type: nf4, compute_dtype: float32}\n"
    (tmp_path / "fttrain.resolved.yaml").write_text(legacy)
    run = RunFolder.open(tmp_path)
    assert run.base_model == BaseModel("/m", "m.gguf", "float32")
    assert run.resolved["quant"] == {"quant_type": "nf4"} and "gguf_file" not in run.resolved


def test_not_a_run_folder(tmp_path):
    with pytest.raises(NotARunFolderError, match=r"run: not a folder: give the output_dir of an `fttrain run`"):
        RunFolder.open(tmp_path / "run")
    (tmp_path / "run").mkdir()
    with pytest.raises(NotARunFolderError, match=r"run: not a run folder \(no fttrain\.resolved\.yaml\)"):
        RunFolder.open(tmp_path / "run")
    (tmp_path / "run" / "fttrain.resolved.yaml").write_text("base_model: /m\n")
    with pytest.raises(RunFolderError, match=r"run/data_manifest\.json: missing$"):
        _ = RunFolder.open(tmp_path / "run").data
    (tmp_path / "run" / "data_manifest.json").write_text("[]")
    with pytest.raises(RunFolderError, match=r"data_manifest\.json: expected a JSON object"):
        _ = RunFolder.open(tmp_path / "run").data
