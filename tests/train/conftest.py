"""Train configs for the tiny model and export in tests/conftest.py."""

import pytest
import yaml


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
