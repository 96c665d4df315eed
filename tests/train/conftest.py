"""A tiny Llama and an export folder made by `ftdata export`'s own code, shared by the trainer tests."""

from pathlib import Path

import pytest
import yaml

from ftdata.export import build_export
from ftdata.project import Project, init_project
from ftdata.snapshot import Response, Snapshot, SnapshotRecord

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer_dir):
    from fttrain.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory, gsm8k_rows):
    """80 GSM8K examples, accepted by two reviewers in a snapshot, exported by ftdata's export."""
    root = tmp_path_factory.mktemp("project")
    init_project(root, dataset="tiny")
    project = Project.open(root, ("export.min_examples=10",))
    rows = [r for r in gsm8k_rows[:200] if "<<" in r["answer"] and len(r["answer"]) < 400][:80]
    records = [
        SnapshotRecord(
            external_id=f"ex_{i:016x}",
            server_id=f"00000000-0000-0000-0000-{i:012d}",
            status="completed",
            conversation=[
                {"role": "system", "content": "Answer in the house format."},
                {"role": "user", "content": r["question"]},
            ],
            answer=r["answer"],
            metadata={"source": "gsm8k"},
            suggestions=[],
            responses=(
                Response("ana", "submitted", {"verdict": "accept"}),
                Response("ben", "submitted", {"verdict": "accept"}),
            ),
        )
        for i, r in enumerate(rows)
    ]
    info = {
        "id": "20260101T000000Z-tiny",
        "workspace": "ftkit",
        "dataset": "tiny",
        "content_sha256": "0" * 64,
        "guideline_version": "1" * 64,
        "pulled_at": "2026-01-01T00:00:00+00:00",
        "review_design": {},
    }
    out = root / "export"
    build_export(project, Snapshot(id=info["id"], info=info, records=records), out=out)
    return out


@pytest.fixture
def train_config(tmp_path, tiny_model_dir, export_dir):
    """Write a train config for the tiny model; returns a function taking overrides."""

    def make(**overrides):
        config = {
            "base_model": str(tiny_model_dir),
            "data": str(export_dir),
            "output_dir": str(tmp_path / "run"),
            "method": "lora",
            "max_seq_len": 256,
            "epochs": 1,
            "batch_size": 8,
            "gradient_accumulation": 1,
            "learning_rate": 3e-3,
            "logging_steps": 1,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            **overrides,
        }
        path = tmp_path / "train.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return make
